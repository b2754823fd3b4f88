"""`python -m train [--config FILE] [key=value ...]`"""

import argparse
import sys

from train.config import ConfigError, load_config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Fine-tune the counterfeit inspector, log to MLflow, register the model.",
        epilog="Overrides: dotted config keys, e.g. model.name=resnet18 train.epochs=3 output_dir=runs/lite0-3ep",
    )
    parser.add_argument("--config", default=None, help="YAML config (default: configs/default.yaml)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        return _error(exc)
    from train.checkpoint import ResumeError, check_resumable

    try:
        check_resumable(cfg)
    except ResumeError as exc:
        return _error(exc)
    # torch, timm and MLflow take ~10 s to import: only once the config is known to be good, so
    # --help and a mistyped key answer at once.
    from infer.manifest import ManifestError
    from train.broken import TooManyBrokenPhotos
    from train.run import run
    from train.tracking import TrackingUnavailable

    try:
        run(cfg)
    except (ConfigError, ManifestError, ResumeError, TooManyBrokenPhotos, TrackingUnavailable) as exc:
        return _error(exc)
    return 0


def _error(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
