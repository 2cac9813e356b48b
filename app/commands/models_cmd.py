"""`deep-live-cam models list | download [NAME...] | verify | path | optimize [--source PHOTO ...]`.

Exit codes: 0 fine; 2 unknown model name or a bad option; 3 (ModelError) `verify` found a required file missing
or any file corrupt, `optimize` found a model file missing or built an int8 swapper below the quality bound
(kept, but not enabled); 4 (InputError) `optimize` cannot read a --source photo; 5 (NoFaceError) a --source
photo has no face; 6 (OutputError) the models folder is not writable; 8 (DownloadError) a download failed;
130 a download or an optimize was interrupted (a download's `.part` stays and the next `download` resumes
it; an optimize leaves nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from app.commands.messages import int8_hint
from app.core.int8_report import DEFAULT_MIN_PSNR_DB
from app.errors import EXIT_INTERRUPTED, EXIT_OK, DLCError, ModelError, OptionError
from app.models.manifest import MODEL_FILES, ModelFile, default_downloads, human_size, lookup
from app.models.paths import resolve_models_dir
from app.models.status import FileStatus, Status, problems, verify


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the 'models' sub-command on an argparse subparsers object."""
    # SUPPRESS: a sub-parser's defaults would otherwise overwrite a --models-dir given at an outer level.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="model folder (default: $DLC_MODELS_DIR, ./models in a source checkout, else a per-user folder)",
    )
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "models",
        parents=[common],
        help="list, download and verify model files",
        description="List, download and verify the model files.",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    actions.required = True

    actions.add_parser("list", parents=[common], help="show every model file, its licence and status")

    dl = actions.add_parser(
        "download",
        parents=[common],
        help="fetch model files (default: what a swap needs plus GFPGAN v1.4)",
        description="Fetch model files with progress, resume and SHA-256 check. Without names: the files a "
        "swap needs plus GFPGANv1.4.pth.",
    )
    dl.add_argument("names", nargs="*", metavar="NAME", help="key, file name or path as shown by 'list'")
    dl.add_argument("--all", action="store_true", help="every file that has a download source")
    dl.add_argument("--force", action="store_true", help="download again even when the file is intact")
    dl.add_argument("--retries", type=int, default=3, metavar="N", help="attempts per source (default 3)")
    dl.add_argument("--timeout", type=float, default=30.0, metavar="S", help="network timeout in seconds")
    dl.add_argument("--quiet", action="store_true", help="no progress bars")

    vf = actions.add_parser(
        "verify", parents=[common], help="check sizes and SHA-256 of the model files (exit 3 if broken)"
    )
    vf.add_argument("--quick", action="store_true", help="compare sizes only")

    actions.add_parser("path", parents=[common], help="print the model folder")

    op = actions.add_parser(
        "optimize",
        parents=[common],
        help="build a faster int8 face swap model for CPUs, checked against fp32 before it may be used",
        description="Build a static int8 copy of inswapper_128.onnx (about twice as fast on a CPU), calibrated "
        "on aligned faces from photos that ship with the installed packages and on your own source photos, "
        "and measure it against fp32 on faces held back from calibration. It is enabled for "
        "`--precision int8` only when every held-back face reaches the PSNR bound. Takes a few minutes.",
    )
    op.add_argument("--source", action="extend", nargs="+", type=Path, default=[], metavar="PHOTO",
                    help="your own source photo(s) to calibrate on as well (the identities you will swap in)")
    op.add_argument("--min-psnr", type=float, default=DEFAULT_MIN_PSNR_DB, metavar="DB",
                    help=f"quality bound in dB on the worst held-back face (default {DEFAULT_MIN_PSNR_DB:g})")
    op.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def _status_rows(statuses: Sequence[FileStatus]) -> list[list[str]]:
    rows = [["name", "path", "size", "need", "licence", "status"]]
    for s in statuses:
        f = s.file
        rows.append([f.key, f.relpath, human_size(f.size), f.need, f.licence, s.status.value])
    return rows


def _select(names: Sequence[str], everything: bool, files: Sequence[ModelFile]) -> tuple[ModelFile, ...]:
    if everything:
        return tuple(f for f in files if f.downloadable)
    if not names:
        return default_downloads(files)
    chosen: list[ModelFile] = []
    for name in names:
        found = lookup(name, files)
        if not found:
            known = ", ".join(f.key for f in files)
            raise OptionError(f"unknown model {name!r}; known: {known}")
        for f in found:
            if not f.downloadable:
                raise OptionError(f"{f.relpath} cannot be downloaded: {f.note}")
            if f not in chosen:
                chosen.append(f)
    return tuple(chosen)


def _progress_factory(quiet: bool, err: TextIO) -> Any:
    if quiet:
        return None
    from tqdm import tqdm

    def factory(label: str) -> Any:
        bar = tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=err, leave=True)

        def callback(done: int, total: int | None) -> bool:
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)
            if total is not None and done >= total:
                bar.close()
            return True

        return callback

    return factory


def _cmd_list(models_dir: Path, files: Sequence[ModelFile], out: TextIO) -> int:
    statuses = verify(models_dir, files, full=False)
    out.write(f"models folder: {models_dir}\n\n")
    _table(_status_rows(statuses), out)
    out.write(
        "\nneed: required = a swap needs it; default = fetched by 'models download'; optional = on request."
        "\nstatus here compares sizes only ('present'); run 'models verify' for SHA-256."
        "\nInsightFace models are for non-commercial research only; see 'models download' for sources.\n"
    )
    from app.core.int8 import int8_status

    status = int8_status(models_dir)
    hint = int8_hint(status.fix)
    out.write(f"int8 swapper (`--precision int8` on a CPU): {status.message}" + (f"; {hint}" if hint else "")
              + "\n")
    return EXIT_OK


def _cmd_verify(models_dir: Path, quick: bool, files: Sequence[ModelFile], out: TextIO) -> int:
    statuses = verify(models_dir, files, full=not quick)
    out.write(f"models folder: {models_dir}\n\n")
    _table(_status_rows(statuses), out)
    notes = [s for s in statuses if s.status in (Status.CORRUPT, Status.UNCONFIRMED)]
    if notes:
        out.write("\n")
    for s in notes:
        out.write(f"{s.file.relpath}: {s.status.value}: {s.detail}\n")
        if s.sha256:
            out.write(f"  sha256 {s.sha256}\n")
    bad = problems(statuses)
    if bad:
        names = ", ".join(f"{s.file.relpath} ({s.status.value})" for s in bad)
        raise ModelError(f"model files need attention: {names}")
    return EXIT_OK


def _cmd_download(
    args: argparse.Namespace, models_dir: Path, manifest: Sequence[ModelFile], out: TextIO, err: TextIO
) -> int:
    from app.models.download import download
    from app.models.fetch import FetchOptions

    files = _select(args.names, args.all, manifest)
    licences = sorted({(f.licence, f.licence_url) for f in files})
    out.write(f"models folder: {models_dir}\n")
    for licence, url in licences:
        out.write(f"licence: {licence} ({url})\n")
    options = FetchOptions(attempts=max(1, args.retries), timeout_s=args.timeout)
    outcomes = download(
        models_dir,
        files,
        force=args.force,
        progress_for=_progress_factory(args.quiet, err),
        options=options,
    )
    for o in outcomes:
        where = f" from {o.source}" if o.source else ""
        check = "sha256 ok" if o.confirmed else "UNCONFIRMED: no trusted hash to check it against"
        out.write(f"{o.file.relpath}: {o.action}{where} ({check})\n")
    return EXIT_OK


class _StageBars:
    """One progress bar per stage of an optimize ("finding faces in t1.jpg" counts as "finding faces")."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._bar: Any = None
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> bool:
        from tqdm import tqdm

        name, _, detail = stage.partition(" in ")
        if name != self._stage:
            self.close()
            self._stage = name
            unit = "B" if name.startswith("reading") else "face"
            self._bar = tqdm(desc=name, total=total, unit=unit, unit_scale=unit == "B", unit_divisor=1024,
                             file=self._err, leave=True)
        self._bar.total = total
        if detail:
            self._bar.set_postfix_str(detail, refresh=False)
        self._bar.update(done - self._bar.n)
        return True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _cmd_optimize(args: argparse.Namespace, models_dir: Path, out: TextIO, err: TextIO) -> int:
    from app.core.int8_build import build_int8_swapper

    if not args.min_psnr > 0:
        raise OptionError(f"--min-psnr must be a positive number of dB, got {args.min_psnr}")
    out.write(f"models folder: {models_dir}\n")
    bars = None if args.quiet else _StageBars(err)
    try:
        report = build_int8_swapper(models_dir, args.source, min_psnr_db=args.min_psnr, progress=bars)
    finally:
        if bars is not None:
            bars.close()
    out.write(f"{models_dir / report.model} (built in {report.seconds:.0f} s)\n{report.summary()}\n")
    if not report.enabled:
        out.write(f"{int8_hint('calibrate')}\n")
        raise ModelError(f"the int8 swapper is below the {report.bound_db:g} dB bound and is not enabled")
    return EXIT_OK


def run(args: argparse.Namespace, files: Sequence[ModelFile] = MODEL_FILES) -> int:
    """Carry out a parsed `models` command; returns the process exit code.

    `files` is the manifest to work from; tests pass their own entries (local URLs, stand-in hashes).
    """
    out, err = sys.stdout, sys.stderr
    models_dir = resolve_models_dir(getattr(args, "models_dir", None))
    action = args.models_action
    try:
        if action == "path":
            out.write(f"{models_dir}\n")
            return EXIT_OK
        if action == "list":
            return _cmd_list(models_dir, files, out)
        if action == "verify":
            return _cmd_verify(models_dir, args.quick, files, out)
        if action == "download":
            return _cmd_download(args, models_dir, files, out, err)
        if action == "optimize":
            return _cmd_optimize(args, models_dir, out, err)
        raise OptionError(f"unknown models action {action!r}")
    except KeyboardInterrupt:
        again = "build again" if action == "optimize" else "resume"
        err.write(f"\ninterrupted; nothing half-written was installed. Run the command again to {again}.\n")
        return EXIT_INTERRUPTED
    except DLCError as exc:
        err.write(f"error: {exc}\n")
        return exc.exit_code
