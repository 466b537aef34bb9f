"""Training the transfer methods: one function per method, chosen from :data:`TRAINERS` by name, with every trained
model cached under ``models_dir`` by the settings that shape it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xner.data import load_split
from xner.methods.adapters import load_adapter_model, train_language_adapter, train_lora_ner, train_madx
from xner.methods.config import SETTING, MethodConfig, MethodError, TrainedMethod
from xner.methods.distill import distill
from xner.modeling.config import TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.predict import NERModel
from xner.modeling.train import train_ner
from xner.modeling.transfer import build_setting_data, spec_for
from xner.robustness.suite import ModelSpec
from xner.utils import text_digest

if TYPE_CHECKING:
    pass


def _resolve(mc: MethodConfig) -> str:
    return resolve_encoder(mc.encoder, languages=mc.languages, seed=mc.encoder_seed)


def _setting_data(mc: MethodConfig, sources: Sequence[str], loader: Callable[..., Any]) -> Any:
    setting = "zero-shot" if len(sources) == 1 else "multi-source"
    spec = spec_for(setting, "+".join(sources), mc.target, dataset=mc.dataset)
    return build_setting_data(
        spec,
        seed=mc.seed,
        max_train_samples=mc.max_train_samples,
        max_eval_samples=mc.max_eval_samples,
        max_predict_samples=1,
        loader=loader,
    )


def _load(method: str, path: Path, num_threads: int | None = None) -> Any:
    if method in ("lora", "madx"):
        return load_adapter_model(path, num_threads=num_threads)
    return NERModel.load(path, num_threads=num_threads)


HELDOUT_SENTENCES = 200  # the last dev sentences of a language: held out of its adapter's MLM text


def language_text(lang: str, dataset: str, loader: Callable[..., Any]) -> tuple[list[list[str]], list[list[str]]]:
    """A language's adapter text — all local train and dev text but the last :data:`HELDOUT_SENTENCES` dev
    sentences — and that held-out slice (never test text)."""
    train = [list(t) for t in loader(lang, "train", dataset)["tokens"]]
    dev = [list(t) for t in loader(lang, "dev", dataset)["tokens"]]
    if len(dev) <= HELDOUT_SENTENCES:
        raise MethodError(f"{lang}: {len(dev)} dev sentences, need more than {HELDOUT_SENTENCES} to hold some out")
    return train + dev[:-HELDOUT_SENTENCES], dev[-HELDOUT_SENTENCES:]


def language_adapter(mc: MethodConfig, lang: str, models_dir: Path, loader: Callable[..., Any], encoder: str) -> Path:
    """The cached MLM language adapter of ``lang`` for this encoder and these settings (trained when missing)."""
    key = hashlib.sha256(
        json.dumps(
            {
                "enc": mc.encoder,
                "lang": lang,
                "lora": dataclasses.asdict(mc.language_lora),
                "mlm": dataclasses.asdict(mc.mlm),
                "ds": mc.dataset,
                "es": mc.encoder_seed,
                "text": f"train+dev-{HELDOUT_SENTENCES}",
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:10]
    enc = mc.encoder.replace("/", "_") if not Path(mc.encoder).exists() else Path(mc.encoder).name
    out = models_dir / f"lang-adapter-{lang}-{enc}-{key}"
    if (out / "language_adapter.json").is_file():
        return out
    text, heldout = language_text(lang, mc.dataset, loader)
    tmp = out.with_name(out.name + ".tmp")
    mlm = mc.mlm if mc.num_threads is None else dataclasses.replace(mc.mlm, num_threads=mc.num_threads)
    train_language_adapter(encoder, text, lang, tmp, mc.language_lora, mlm, heldout=heldout)
    tmp.rename(out)
    return out


@dataclass
class _Job:
    """What every trainer of :data:`TRAINERS` receives: the method's settings and where its model goes."""

    mc: MethodConfig
    models_dir: Path
    loader: Callable[..., Any]
    log: Callable[[str], None]
    encoder: str
    cfg: TrainConfig
    out: Path
    name: str
    info: dict[str, Any]

    def data(self, sources: Sequence[str] | None = None) -> Any:
        """The labelled training and dev data of the method's (or the given) sources."""
        return _setting_data(self.mc, self.mc.used_sources if sources is None else sources, self.loader)

    def full_config(self) -> TrainConfig:
        """The training settings with the sample caps lifted (the setting data are capped already)."""
        return dataclasses.replace(self.cfg, max_train_samples=None, max_eval_samples=None)


def _train_finetune(job: _Job) -> Any:
    """``direct`` and ``multi-source``: fine-tune the encoder on the source(s)."""
    data = job.data()
    res = train_ner(data.train, data.dev, job.full_config(), encoder=job.encoder, output_dir=job.out, run_name=job.name)
    job.info["history"] = res.history.to_dict("records")
    return res.model


def _train_distill(job: _Job) -> Any:
    """``distill``: the ``direct`` model of every source is a teacher; a student learns on target text."""
    mc, teachers = job.mc, {}
    for src in mc.used_sources:
        tm = train_method(mc.teacher(src), job.models_dir, loader=job.loader, log=job.log)
        teachers[src] = tm.spec.predictor
        job.info.setdefault("teacher_paths", {})[src] = str(tm.path)
    text = [list(t) for t in job.loader(mc.target, "train", mc.dataset)["tokens"]]
    src_text = {s: [list(t) for t in job.loader(s, "train", mc.dataset)["tokens"]] for s in mc.used_sources}
    res = distill(
        teachers,
        text,
        job.encoder,
        dataclasses.replace(job.cfg, max_train_samples=mc.max_unlabeled),
        mc.distill,
        source_texts=src_text if len(mc.used_sources) > 1 else None,
        dev=job.data().dev,
        output_dir=job.out,
        run_name=job.name,
    )
    job.info["teacher_weights"] = [dataclasses.asdict(w) for w in res.weights]
    job.info["history"] = res.history.to_dict("records")
    return res.model


def _train_lora(job: _Job) -> Any:
    """``lora``: LoRA adapters and a fully trained head on the first source."""
    data = job.data()
    res = train_lora_ner(
        data.train, data.dev, job.encoder, job.full_config(), job.mc.lora, output_dir=job.out, run_name=job.name
    )
    job.info.update(res.stats)
    return res.model


def _train_madx(job: _Job) -> Any:
    """``madx``: language adapters by MLM for source and target, a task adapter over the source's."""
    mc, src = job.mc, job.mc.used_sources[0]
    adapters = {lang: language_adapter(mc, lang, job.models_dir, job.loader, job.encoder) for lang in (src, mc.target)}
    data = job.data((src,))
    res = train_madx(
        data.train,
        data.dev,
        job.encoder,
        adapters,
        src,
        mc.target,
        job.full_config(),
        mc.lora,
        output_dir=job.out,
        run_name=job.name,
    )
    job.info.update(res.stats)
    job.info["language_adapters"] = {k: str(v) for k, v in adapters.items()}
    return res.model


#: The trainer of each method: one function per method, looked up by name.
TRAINERS: dict[str, Callable[[_Job], Any]] = {
    "direct": _train_finetune,
    "multi-source": _train_finetune,
    "distill": _train_distill,
    "lora": _train_lora,
    "madx": _train_madx,
}


def train_method(
    mc: MethodConfig,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> TrainedMethod:
    """Train ``mc.method`` (or load it from ``models_dir`` when trained before with the same settings)."""
    loader = loader or load_split
    models_dir = Path(models_dir)
    path = models_dir / mc.folder_name()
    spec_kw = {
        "source": "+".join(mc.used_sources),
        "target": mc.target,
        "setting": SETTING[mc.method],
        "model": mc.encoder,
        "seed": mc.seed,
    }
    if (path / "xner_model.json").is_file():
        log(f"{mc.method}: cached {path}")
        meta = path / "method.json"
        info = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        return TrainedMethod(ModelSpec(_load(mc.method, path, mc.num_threads), **spec_kw), path, True, 0.0, info)
    t0 = time.perf_counter()
    encoder = _resolve(mc)
    info: dict[str, Any] = {"method": mc.method, "config": dataclasses.asdict(mc), "encoder_path": encoder}
    tmp = path.with_name(path.name + ".tmp")
    log(f"{mc.method}: training {path.name}")
    job = _Job(mc, models_dir, loader, log, encoder, mc.train_config(), tmp, path.name, info)
    predictor = TRAINERS[mc.method](job)
    seconds = time.perf_counter() - t0
    info["train_seconds"] = seconds
    (tmp / "method.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    if mc.method == "madx":  # saved adapters now live under the final folder
        predictor = load_adapter_model(path, num_threads=mc.num_threads)
    return TrainedMethod(ModelSpec(predictor, **spec_kw), path, False, seconds, info)


class CachedPredictor:
    """Remembers the predictions of a predictor by input, so a comparison can re-read them without re-running."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self._cache: dict[str, list[list[str]]] = {}

    @staticmethod
    def _key(tokens: Sequence[Sequence[str]]) -> str:
        return text_digest(tokens)

    def predict(self, tokens: list[list[str]]) -> list[list[str]]:
        """Predictions for ``tokens`` (computed once per distinct input)."""
        k = self._key(tokens)
        if k not in self._cache:
            fn = self.predictor.predict if hasattr(self.predictor, "predict") else self.predictor
            self._cache[k] = [list(t) for t in fn(tokens)]
        return self._cache[k]

    __call__ = predict
