"""``thermogate model fit|predict|evaluate``: the skin-to-body model on the facial-oral study's files.

- ``thermogate model fit [CSV ...]`` refits the model (default: the study's
  group 1 files in ``../shared/data/facial-oral/`` beside the checkout) and
  writes ``controller/screening/body_model.json`` (or ``-o FILE``), with the
  cross-validation figures.
- ``thermogate model predict FILE.csv`` prints one JSON line per subject with
  readings: ``{"subject", "estimate_c", "decision"}``.
- ``thermogate model evaluate FILE.csv [...] [--cross-validate]`` prints n,
  MAE, bias, slope, sensitivity, specificity and the PASSes given at an oral
  temperature of 37.3 degC or more; ``--site canthus_region``
  evaluates the inner-canthus regions' average (RCC, LCC) with its own
  relation, the one a gate's eye band follows.

docs/estimation.md ("Skin to body") says which columns are read.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from . import body_model, facial_oral
from .config import ScreeningConfig, load

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "facial-oral"
DEFAULT_FILES = ("FLIR_group1.csv", "ICI_group1.csv")
DEFAULT_FOLDS = 10
DEFAULT_SEED = 0


def _threshold(args: argparse.Namespace) -> float:
    return (load(args.config) if args.config else ScreeningConfig()).threshold_c


def _model(args: argparse.Namespace) -> body_model.BodyModel:
    return body_model.load(args.model) if args.model else body_model.default_model()


def _rounds(args: argparse.Namespace) -> tuple[int, ...]:
    return (args.round,) if getattr(args, "round", None) else facial_oral.ROUNDS


def _read_all(paths: list[str], rounds: tuple[int, ...] = facial_oral.ROUNDS) -> list[list[facial_oral.Subject]]:
    return [facial_oral.read(p, rounds) for p in paths]


def cross_validation_table(paths: list[str], threshold_c: float, folds: int = DEFAULT_FOLDS,
                           seed: int = DEFAULT_SEED, use_forehead: bool = False,
                           rounds: tuple[int, ...] = facial_oral.ROUNDS,
                           site: str = "canthus") -> dict[str, facial_oral.Metrics]:
    """Cross-validated figures, folds by subject over all the files together: pooled ("all") and per file, for
    the eye site ``site`` (``canthus``: canthiMax; ``canthus_region``: RCC/LCC averaged)."""
    per_file = _read_all(paths, rounds)
    subjects = [s for group in per_file for s in group if s.readable and math.isfinite(s.oral_c)]
    est = facial_oral.cross_validate(subjects, folds, seed, use_forehead, site)
    oral = [s.oral_c for s in subjects]
    table = {"all": facial_oral.metrics(est, oral, threshold_c)}
    for path in paths:
        name = Path(path).name
        idx = [i for i, s in enumerate(subjects) if s.source == name]
        table[name] = facial_oral.metrics(est[idx], [oral[i] for i in idx], threshold_c)
    return table


def _fit(args: argparse.Namespace) -> int:
    paths = args.files or [str(DATA_DIR / f) for f in DEFAULT_FILES]
    per_file = _read_all(paths)
    subjects = [s for group in per_file for s in group]
    model = facial_oral.fit_subjects(subjects)
    threshold = ScreeningConfig().threshold_c
    table = cross_validation_table(paths, threshold, args.folds, args.seed)
    region_table = (cross_validation_table(paths, threshold, args.folds, args.seed, site="canthus_region")
                    if model.canthus_region is not None else {})
    sources = [{"file": Path(p).name, "sha256": body_model.file_sha256(p), "subjects": len(group),
                "used": sum(1 for s in group if s.readable and math.isfinite(s.oral_c))}
               for p, group in zip(paths, per_file, strict=True)]
    cv = {"folds": args.folds, "seed": args.seed, "by": "SubjectID", "threshold_c": threshold,
          **{k: m.as_dict() for k, m in table.items()}}
    if region_table:
        cv["canthus_region"] = {k: m.as_dict() for k, m in region_table.items()}
    body_model.save(model, args.output, sources=sources, cross_validation=cv)
    c, f = model.canthus, model.forehead
    print(f"fitted on {sum(s['used'] for s in sources)} rows of {len(paths)} file(s); wrote {args.output}")
    print(f"  canthus  = {c.intercept:.3f} + {c.body:.4f} body + {c.ambient:.4f} room "
          f"(residual sd {math.sqrt(model.covariance[0][0]):.3f})")
    print(f"  forehead = {f.intercept:.3f} + {f.body:.4f} body + {f.ambient:.4f} room "
          f"(residual sd {math.sqrt(model.covariance[1][1]):.3f})")
    if model.canthus_region is not None and model.region_covariance is not None:
        r = model.canthus_region
        print(f"  canthus region (RCC, LCC averaged) = {r.intercept:.3f} + {r.body:.4f} body + {r.ambient:.4f} room "
              f"(residual sd {math.sqrt(model.region_covariance[0][0]):.3f})")
    print(f"cross-validation, {args.folds} folds by subject (seed {args.seed}), FEVER at >= {threshold} degC:")
    for label, m in table.items():
        print("  canthus max     " + m.line(label))
    for label, m in region_table.items():
        print("  canthus region  " + m.line(label))
    return 0


def _predict(args: argparse.Namespace) -> int:
    model = _model(args)
    threshold = _threshold(args)
    skipped = 0
    for s in facial_oral.read(args.file, _rounds(args)):
        if not s.readable:
            what = "canthiMax in every round" if not math.isfinite(s.canthus_c) else "T_atm"
            print(f"thermogate: {args.file}: subject {s.subject} skipped: no {what}", file=sys.stderr)
            skipped += 1
            continue
        est = model.body_c(s.canthus_c, s.ambient_c, forehead_c=s.forehead_c if args.forehead else None)
        print(json.dumps({"subject": s.subject, "estimate_c": round(est, 3),
                          "decision": "FEVER" if est >= threshold else "PASS"}))
    if skipped:
        print(f"thermogate: {skipped} subject(s) skipped for missing readings", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    threshold = _threshold(args)
    per_file = _read_all(args.files, _rounds(args))
    for path, group in zip(args.files, per_file, strict=True):
        dropped = sum(1 for s in group if not (s.readable and math.isfinite(s.oral_c)))
        if dropped:
            print(f"thermogate: {path}: {dropped} subject(s) without a canthus reading, T_atm or aveOralM left out",
                  file=sys.stderr)
    model = _model(args)
    label = "model " + (args.model or "body_model.json (the product's)")
    print(f"{label}; FEVER at >= {threshold} degC; sensitivity: oral >= {facial_oral.FEVER_REFERENCE_C}, "
          f"specificity: oral <= {facial_oral.AFEBRILE_REFERENCE_C}, PASS counted at oral >= "
          f"{facial_oral.NEVER_PASS_REFERENCE_C}"
          + (f"; {args.site} and forehead" if args.forehead else f"; {args.site}")
          + (f"; round {args.round} alone" if args.round else "; mean of the rounds"))
    everyone = []
    for path, group in zip(args.files, per_file, strict=True):
        rows = [s for s in group if s.readable and math.isfinite(s.oral_c)]
        everyone += rows
        est = facial_oral.estimates(model, rows, args.forehead, args.site)
        print("  " + facial_oral.metrics(est, [s.oral_c for s in rows], threshold).line(Path(path).name))
    if len(args.files) > 1:
        est = facial_oral.estimates(model, everyone, args.forehead, args.site)
        print("  " + facial_oral.metrics(est, [s.oral_c for s in everyone], threshold).line("all"))
    if args.cross_validate:
        print(f"cross-validation: {args.folds} folds by SubjectID over all the files (seed {args.seed}), "
              "each fold's subjects estimated by a model fitted without them")
        table = cross_validation_table(args.files, threshold, args.folds, args.seed, args.forehead, _rounds(args),
                                       args.site)
        for name, m in table.items():
            print("  " + m.line(name))
    return 0


def add_commands(commands) -> None:
    model = commands.add_parser("model", help="the skin-to-body model: fit, predict, evaluate on facial-oral data")
    sub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")

    fit = sub.add_parser("fit", help="refit the model on facial-oral study files and store it")
    fit.add_argument("files", nargs="*", help=f"study CSVs (default: {', '.join(DEFAULT_FILES)} in {DATA_DIR})")
    fit.add_argument("-o", "--output", default=str(body_model.MODEL_FILE), help="where to write the model JSON")
    fit.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help="cross-validation folds (by subject)")
    fit.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the fold assignment")
    fit.set_defaults(run=_fit)

    for name, run, text in (("predict", _predict, "one JSON line per subject: estimate and decision"),
                            ("evaluate", _evaluate, "MAE, bias, slope, sensitivity and specificity against aveOralM")):
        p = sub.add_parser(name, help=text)
        if name == "predict":
            p.add_argument("file", help="a CSV in the facial-oral layout")
        else:
            p.add_argument("files", nargs="+", help="CSVs in the facial-oral layout")
            p.add_argument("--cross-validate", action="store_true",
                           help="also refit in folds by subject over these files and report out-of-fold figures")
            p.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
            p.add_argument("--seed", type=int, default=DEFAULT_SEED)
            p.add_argument("--site", choices=body_model.BodyModel.SITES, default="canthus",
                           help="the eye reading: canthus (canthiMax, the maximum) or canthus_region (RCC and LCC "
                                "averaged, what a gate's eye band sees)")
        p.add_argument("--config", help="controller TOML whose [screening] threshold_c decides (default 37.3)")
        p.add_argument("--model", help="a model JSON instead of the product's")
        p.add_argument("--forehead", action="store_true", help="use the forehead reading too (the gate does not)")
        p.add_argument("--round", type=int, choices=facial_oral.ROUNDS,
                       help="read this round alone (one reading, as at a gate) instead of the mean of the rounds")
        p.set_defaults(run=run)

