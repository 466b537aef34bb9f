# Stage 08, the dial experiment (the interventional half of the study): per pair of the config's
# `stages: 08_dial_experiment: pairs`, train the model on the divergence dial's resampled source sets at several
# Jensen–Shannon levels and score each on the target test set. One job over all its pairs (`xner run 08` without
# --pair, like stage 06); its trained models are cached under {R}/all/08_dial_experiment/models, so a rerun
# after a killed job trains only the levels not yet done. Included from workflow/Snakefile (uses R, ENV-style
# settings, XNER, ENCODER_THREADS, params_for and root_of defined there).


rule dial_experiment:
    output:
        f"{R}/all/08_dial_experiment.ipynb",
    threads: ENCODER_THREADS
    log:
        f"{R}/logs/08_dial_experiment.log",
    conda:
        "../../environment.yml"  # the same environment as ENV: relative paths resolve from this file's folder
    params:
        xner=XNER,
        results=root_of(1),
        p=lambda wc: params_for("08_dial_experiment"),
    shell:
        "{params.xner} run 08 --results {params.results} -p num_threads={threads} {params.p} 2>&1 | tee {log}"
