"""A long video swapped on a Ray cluster: cut at keyframes, chunks swapped by worker actors (each loads the
models once and starts a fresh processor, with its own tracker, on every chunk's first frame), joined in
order with the original audio into one file written atomically.

The driver (this process) reads the input once, hands each chunk's packets to the object store, and joins
results as they arrive in order; at most a few chunks per worker are in flight, so memory stays bounded.
A worker process that dies is restarted by Ray and its chunk retried (`max_retries`). Cancel (an Event or
a callable) or Ctrl+C kills the workers and leaves nothing under the output name."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ray

from app.errors import DLCError, OptionError
from app.media.chunks import (
    MIN_CHUNK_SECONDS,
    ChunkPlan,
    ChunkResult,
    ChunkSpan,
    chunk_inputs,
    plan_chunks,
    swap_chunk,
)
from app.media.formats import EncoderSettings, container_for
from app.media.join import ChunkJoiner
from app.media.pipeline import Cancel, FrameFunction, Progress, VideoCancelled, VideoReport, _is_cancelled
from app.media.writer import AudioMode

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the driver looks at progress, cancel and finished chunks
REPORT_S = 0.25  # how often a worker reports its frame count


class ProcessorFactory(Protocol):
    """Picklable; see app.media.swap_job.SwapJob."""

    @property
    def engine_key(self) -> object: ...

    def load_engine(self) -> Any: ...

    def processor(self, engine: Any) -> FrameFunction: ...


@dataclass(frozen=True)
class RayVideoOptions:
    chunk_seconds: float = 10.0
    workers: int | None = None  # None: one per GPU of the cluster, else one per `cpus_per_worker` CPUs
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs, else 0
    cpus_per_worker: float = 1.0
    max_retries: int = 3  # per chunk, when its worker process dies
    in_flight_per_worker: int = 2  # queued on each worker, so none waits between chunks

    def __post_init__(self) -> None:
        if not self.chunk_seconds >= MIN_CHUNK_SECONDS:  # also refuses NaN
            raise OptionError(f"--chunk-seconds must be at least {MIN_CHUNK_SECONDS}, got {self.chunk_seconds}")
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"workers must be at least 1, got {self.workers}")
        if self.gpus_per_worker is not None and not self.gpus_per_worker >= 0:
            raise OptionError(f"GPUs per worker must be 0 or more, got {self.gpus_per_worker}")
        if not self.cpus_per_worker >= 0:
            raise OptionError(f"CPUs per worker must be 0 or more, got {self.cpus_per_worker}")
        if self.max_retries < 0:
            raise OptionError("retries must be 0 or more")
        if self.in_flight_per_worker < 1:
            raise OptionError("at least one chunk must be in flight per worker")

    def resolve(self, resources: dict[str, float]) -> tuple[int, float, float]:
        """(workers, GPUs per worker, CPUs per worker) for a cluster with these resources."""
        gpus = resources.get("GPU", 0.0)
        per_gpu = self.gpus_per_worker if self.gpus_per_worker is not None else (1.0 if gpus >= 1 else 0.0)
        if self.workers is not None:
            workers = self.workers
        elif per_gpu > 0:
            workers = max(1, int(gpus // per_gpu))
        else:
            workers = max(1, int(resources.get("CPU", 1.0) // max(self.cpus_per_worker, 1.0)))
        return workers, per_gpu, self.cpus_per_worker


@dataclass(frozen=True)
class RayVideoReport(VideoReport):
    chunks: int = 0
    workers: int = 0
    frames_with_faces: int | None = None
    retried_chunks: tuple[int, ...] = ()  # chunks whose worker died and that ran again


@ray.remote(num_cpus=0)
class ProgressBoard:
    """Frames done per chunk, and which worker process did them (a new one: the chunk was retried)."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}
        self.pids: dict[int, int] = {}
        self.retried: set[int] = set()

    def report(self, chunk: int, done: int, pid: int) -> None:
        if chunk in self.pids and self.pids[chunk] != pid:
            self.retried.add(chunk)
        self.done[chunk] = done
        self.pids[chunk] = pid

    def snapshot(self) -> tuple[dict[int, int], dict[int, int], list[int]]:
        return dict(self.done), dict(self.pids), sorted(self.retried)


@ray.remote
class ChunkWorker:
    """One worker process: engines loaded once (by the job's engine key), a fresh processor per chunk."""

    def __init__(self) -> None:
        self._engines: dict[object, Any] = {}
        self.pid = os.getpid()

    def swap(self, job: ProcessorFactory, data: bytes, span: ChunkSpan, plan: ChunkPlan,
             settings: EncoderSettings, suffix: str, board: Any) -> ChunkResult:
        engine = self._engines.get(job.engine_key)
        if engine is None:
            engine = self._engines[job.engine_key] = job.load_engine()
        board.report.remote(span.index, 0, self.pid)
        last = time.monotonic()

        def on_frame(done: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= REPORT_S or done == span.frames:
                last = now
                board.report.remote(span.index, done, self.pid)

        return swap_chunk(data, span, plan, job.processor(engine), settings, suffix, on_frame)

    def ping(self) -> int:
        return self.pid


def swap_video_on_ray(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    job: ProcessorFactory,
    settings: EncoderSettings | None = None,
    audio: AudioMode = "auto",
    progress: Callable[[Progress], None] | None = None,
    cancel: Cancel = None,
    options: RayVideoOptions | None = None,
) -> RayVideoReport:
    """`process_video` for a cluster (Ray must be initialised: see app.cluster.connect). Raises what the
    single-machine job raises; in every failure nothing is left under `output_path`."""
    if not ray.is_initialized():
        raise RuntimeError("Ray is not initialised; call app.cluster.connect first")
    settings = settings or EncoderSettings()
    options = options or RayVideoOptions()
    if settings.codec == "hw":
        raise OptionError("--video-codec hw cannot be used with --ray: each worker could pick another encoder; "
                          "name one (e.g. h264_nvenc) that every worker has")
    output = Path(output_path)
    suffix = output.suffix
    container_for(output)
    plan = plan_chunks(input_path, options.chunk_seconds)
    joiner = ChunkJoiner(output, input_path, audio)
    workers, gpus, cpus = options.resolve(ray.cluster_resources())  # type: ignore[no-untyped-call]
    workers = min(workers, len(plan.spans))
    log.info("%s: %d frames in %d chunks on %d workers (%g GPU, %g CPU each)", input_path, plan.frames,
             len(plan.spans), workers, gpus, cpus)
    board = ProgressBoard.remote()  # type: ignore[attr-defined]
    actors = [ChunkWorker.options(  # type: ignore[attr-defined]
        num_cpus=cpus, num_gpus=gpus, max_restarts=options.max_retries, max_task_retries=options.max_retries,
    ).remote() for _ in range(workers)]
    run = _Run(plan, joiner, actors, board, ray.put(job), settings, suffix, options, progress)
    try:
        run.loop(input_path, cancel)
        joiner.commit()
        return run.report(output)
    except BaseException:
        joiner.abort()
        raise
    finally:
        for actor in [*actors, board]:
            ray.kill(actor, no_restart=True)


class _Run:
    """The driver's bookkeeping: chunks handed out, results joined in order, progress."""

    def __init__(self, plan: ChunkPlan, joiner: ChunkJoiner, actors: list[Any], board: Any, job_ref: Any,
                 settings: EncoderSettings, suffix: str, options: RayVideoOptions,
                 progress: Callable[[Progress], None] | None) -> None:
        self.plan, self.joiner, self.actors, self.board = plan, joiner, actors, board
        self.job_ref, self.settings, self.suffix, self.options = job_ref, settings, suffix, options
        self.progress = progress
        self.started = time.perf_counter()
        self.in_flight: dict[Any, tuple[int, int]] = {}  # result ref -> (chunk, actor)
        self.load = [0] * len(actors)
        self.finished: dict[int, Any] = {}  # chunk -> result ref, waiting for its turn to be joined
        self.results: list[ChunkResult] = []
        self.next_join = 0
        self.samples: deque[tuple[float, int]] = deque()
        self.retried: list[int] = []

    def loop(self, input_path: str | os.PathLike[str], cancel: Cancel) -> None:
        inputs = chunk_inputs(input_path, self.plan)
        next_chunk = 0
        window = len(self.actors) * (self.options.in_flight_per_worker + 2)  # bounds unjoined results
        total = len(self.plan.spans)
        while self.next_join < total:
            if _is_cancelled(cancel):
                raise VideoCancelled(f"cancelled; {self.joiner.output} was not written")
            while next_chunk < total and next_chunk - self.next_join < window:
                actor = min(range(len(self.actors)), key=self.load.__getitem__)
                if self.load[actor] >= self.options.in_flight_per_worker:
                    break
                data = ray.put(next(inputs))
                ref = self.actors[actor].swap.remote(self.job_ref, data, self.plan.spans[next_chunk], self.plan,
                                                     self.settings, self.suffix, self.board)
                self.in_flight[ref] = (next_chunk, actor)
                self.load[actor] += 1
                next_chunk += 1
            ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                chunk, actor = self.in_flight.pop(ref)
                self.load[actor] -= 1
                self.finished[chunk] = ref
            while self.next_join in self.finished:
                self._join(self.finished.pop(self.next_join))
            self._report()

    def _join(self, ref: Any) -> None:
        try:
            result: ChunkResult = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if isinstance(cause, DLCError):  # the user's error (a bad file, missing models): its own exit code
                raise cause from None
            raise
        except ray.exceptions.RayActorError as exc:
            raise DLCError(f"chunk {self.next_join + 1} failed: its worker stopped "
                           f"{self.options.max_retries + 1} times ({exc.__class__.__name__})") from exc
        self.joiner.add(result.data)
        self.results.append(result)
        self.next_join += 1

    def _report(self) -> None:
        if self.progress is None:
            return
        done_per_chunk, _, _ = ray.get(self.board.snapshot.remote())
        done = sum(done_per_chunk.values())
        now = time.perf_counter()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5.0:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        fps = (done - d0) / (now - t0) if now > t0 else 0.0
        total = max(self.plan.frames, done)
        eta = (total - done) / fps if fps > 0 else None
        self.progress(Progress(done, total, fps, now - self.started, eta))

    def report(self, output: Path) -> RayVideoReport:
        elapsed = time.perf_counter() - self.started
        frames = sum(r.frames for r in self.results)
        if self.progress is not None:
            self.progress(Progress(frames, frames, frames / elapsed if elapsed > 0 else 0.0, elapsed, 0.0))
        stage_ms: dict[str, float] = {}
        for r in self.results:
            for key, ms in r.stage_ms.items():
                stage_ms[key] = stage_ms.get(key, 0.0) + ms * r.frames / max(frames, 1)
        counts = [r.frames_with_faces for r in self.results]
        _, _, retried = ray.get(self.board.snapshot.remote())
        return RayVideoReport(
            output=output, info=self.plan.info, frames=frames, seconds=elapsed,
            codec=self.results[0].codec if self.results else "", audio_copied=len(self.joiner.plan.copy),
            audio_encoded=len(self.joiner.plan.encode), stage_ms=stage_ms, chunks=len(self.results),
            workers=len(self.actors), frames_with_faces=None if None in counts else sum(c or 0 for c in counts),
            retried_chunks=tuple(retried),
        )
