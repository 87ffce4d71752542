"""Run the benchmark: build the input files, time both pipelines alternately, report medians."""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import inputs
from bench.measure import Measurement, run_measured
from bench.stages import time_stages

logger = logging.getLogger(__name__)

SHORT_WORDS = 20
LONG_WORDS = 200


@dataclass
class Sizes:
    """Rows of each input file and runs of each measurement."""

    generated_rows: int = 25_000
    repeats: int = 3
    startup_runs: int = 5
    length_rows: int = 20_000
    memory_rows: tuple[int, int] = (100_000, 1_000_000)


QUICK = Sizes(
    generated_rows=300, repeats=1, startup_runs=1, length_rows=300, memory_rows=(500, 5000)
)


@dataclass
class Report:
    """Every figure of one benchmark run, in seconds and MB."""

    machine: dict[str, str]
    rows: int
    source: str
    scorer: list[Measurement] = field(default_factory=list)
    keras: list[Measurement] = field(default_factory=list)
    startup: list[Measurement] = field(default_factory=list)
    short: Measurement | None = None
    long: Measurement | None = None
    length_rows: int = 0
    memory: dict[int, Measurement] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)


def describe_machine() -> dict[str, str]:
    """Return the CPU model, cores, memory and library versions of this machine."""
    import numpy
    import onnxruntime
    import pyarrow

    cpu = "unknown"
    memory = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    if Path("/proc/meminfo").exists():
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kb / 2**20:.1f} GiB"
    return {
        "cpu": cpu,
        "cores available": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "load average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def scorer_command(path: Path, output: Path, model: Path | None) -> list[str]:
    command = [sys.executable, "-m", "score", str(path), "-o", str(output), "--quiet"]
    return command + (["--model", str(model)] if model else [])


def keras_command(path: Path, output: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "bench.keras_pipeline", str(path), str(output), "--run", str(run)]


def run_benchmark(
    folder: Path,
    imdb: Path | None,
    keras_run: Path | None,
    model: Path | None,
    sizes: Sizes,
) -> Report:
    """Build the inputs in `folder`, run every measurement and return the figures."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    texts = inputs.read_imdb(imdb) if imdb else inputs.generate_reviews(sizes.generated_rows, 1)
    main_file = inputs.write_reviews(folder / "reviews.csv", texts)
    report = Report(
        machine=describe_machine(),
        rows=len(texts),
        source=str(imdb) if imdb else "generated",
        length_rows=sizes.length_rows,
    )
    output = folder / "scored.csv"

    # Alternating the two pipelines spreads any load from other processes over both.
    for repeat in range(sizes.repeats):
        report.scorer.append(run_measured(scorer_command(main_file, output, model), environment))
        logger.info("scorer run %d: %.2f s", repeat + 1, report.scorer[-1].seconds)
        if keras_run is not None:
            report.keras.append(
                run_measured(keras_command(main_file, output, keras_run), environment)
            )
            logger.info("keras run %d: %.2f s", repeat + 1, report.keras[-1].seconds)

    tiny = inputs.write_reviews(folder / "ten.csv", texts[:10])
    for _ in range(sizes.startup_runs):
        report.startup.append(run_measured(scorer_command(tiny, output, model), environment))

    short = inputs.generate_reviews(sizes.length_rows, 2, words=SHORT_WORDS)
    long = inputs.generate_reviews(sizes.length_rows, 3, words=LONG_WORDS)
    short_file = inputs.write_reviews(folder / "short.csv", short)
    long_file = inputs.write_reviews(folder / "long.csv", long)
    report.short = run_measured(scorer_command(short_file, output, model), environment)
    report.long = run_measured(scorer_command(long_file, output, model), environment)
    long_file.unlink()

    for rows in sizes.memory_rows:
        path = inputs.write_reviews(folder / f"rows{rows}.csv", short[:1000], rows=rows)
        report.memory[rows] = run_measured(scorer_command(path, output, model), environment)
        logger.info(
            "%d rows: %.2f s, %.0f MB",
            rows,
            report.memory[rows].seconds,
            report.memory[rows].peak_mb,
        )
        path.unlink()

    report.stages = time_stages(main_file, output, model)
    return report


def median_seconds(measurements: list[Measurement]) -> float:
    return statistics.median(measurement.seconds for measurement in measurements)


def median_cpu(measurements: list[Measurement]) -> float:
    return statistics.median(measurement.cpu_seconds for measurement in measurements)


def format_report(report: Report) -> str:
    """Return the report as Markdown-friendly text."""
    lines = ["machine:"] + [f"  {key}: {value}" for key, value in report.machine.items()]
    lines.append(f"input: {report.rows} reviews ({report.source})")

    scorer = median_seconds(report.scorer)
    scorer_peak = max(measurement.peak_mb for measurement in report.scorer)
    lines.append(
        f"scorer: median {scorer:.2f} s of {len(report.scorer)} runs "
        f"({', '.join(f'{m.seconds:.2f}' for m in report.scorer)}), "
        f"{report.rows / scorer:.0f} rows/s, peak {scorer_peak:.0f} MB, "
        f"median CPU time {median_cpu(report.scorer):.2f} s"
    )
    if report.keras:
        keras = median_seconds(report.keras)
        keras_peak = max(measurement.peak_mb for measurement in report.keras)
        lines.append(
            f"keras:  median {keras:.2f} s of {len(report.keras)} runs "
            f"({', '.join(f'{m.seconds:.2f}' for m in report.keras)}), "
            f"{report.rows / keras:.0f} rows/s, peak {keras_peak:.0f} MB, "
            f"median CPU time {median_cpu(report.keras):.2f} s"
        )
        lines.append(f"speed-up (keras / scorer median wall time): {keras / scorer:.2f}x")
        cpu_ratio = median_cpu(report.keras) / median_cpu(report.scorer)
        lines.append(f"CPU time ratio (keras / scorer medians): {cpu_ratio:.2f}x")
    else:
        lines.append("keras: not run (pass --keras-run RUN_DIR to time the Keras pipeline)")

    startup = median_seconds(report.startup)
    lines.append(f"start-up, 10-row file: median {startup:.2f} s of {len(report.startup)} runs")
    if report.short and report.long:
        # Start-up is the same for both files, so it is taken off before the per-row cost.
        short_row = max(report.short.seconds - startup, 1e-9) / report.length_rows
        long_row = max(report.long.seconds - startup, 1e-9) / report.length_rows
        lines.append(
            f"{SHORT_WORDS}-word reviews: {report.short.seconds:.2f} s, "
            f"{LONG_WORDS}-word reviews: {report.long.seconds:.2f} s for {report.length_rows} rows "
            f"each; per row after start-up: {short_row * 1e6:.0f} us vs {long_row * 1e6:.0f} us, "
            f"ratio {long_row / short_row:.1f}"
        )

    for rows, measurement in report.memory.items():
        lines.append(
            f"{rows} rows of {SHORT_WORDS}-word reviews: {measurement.seconds:.2f} s, "
            f"peak {measurement.peak_mb:.0f} MB"
        )
    if len(report.memory) == 2:
        small, large = (report.memory[rows].peak_mb for rows in sorted(report.memory))
        lines.append(f"peak memory, larger / smaller file: {large / small:.3f}")

    total = sum(report.stages.values())
    lines.append("scorer stages, run one after another in one process:")
    lines += [
        f"  {stage}: {seconds:.2f} s ({seconds / total:.0%})"
        for stage, seconds in report.stages.items()
    ]
    return "\n".join(lines)


def run_in_folder(workdir: Path | None, **options) -> Report:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return run_benchmark(workdir, **options)
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        return run_benchmark(Path(folder), **options)
