"""``hashdesk triage ...``."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import click

PREDICT_BATCH = 64


@click.group()
def triage() -> None:
    """Train and run the triage ("reason for contact") classifier."""


@triage.command()
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path),
    help="labelled examples: CSV with header text,category or TSV with header "
    "text<TAB>label; the label oos marks what is not ours to answer",
)
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="directory to write the model into",
)
@click.option(
    "--encoder",
    type=click.Choice(["minilm", "e5", "none"]),
    default="minilm",
    show_default=True,
    help="sentence embeddings: English MiniLM, multilingual e5, or none",
)
@click.option(
    "--validation-share",
    type=click.FloatRange(0.05, 0.5),
    default=0.2,
    show_default=True,
    help="share of each label held out to choose the threshold",
)
@click.option("--seed", type=int, default=13, show_default=True, help="seed of the split")
@click.option(
    "--min-precision",
    type=click.FloatRange(0, 1),
    default=None,
    help="precision the answers must reach on validation [default: 0.97 with oos "
    "examples, else 0: answer whenever there is a best label]",
)
@click.option(
    "--max-oos-answered",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="share of oos validation examples that may be answered",
)
@click.option(
    "--refit/--no-refit",
    default=True,
    show_default=True,
    help="refit on all examples after choosing the threshold",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="also write the validation report as JSON to this file",
)
def train(data_path: Path, model_dir: Path, encoder: str, validation_share: float, seed: int,
          min_precision: float | None, max_oos_answered: float, refit: bool,
          report_path: Path | None) -> None:  # fmt: skip
    """Train a classifier on labelled examples; progress on stderr, the report on stdout."""
    from dataclasses import replace

    from hashdesk.assistant.triage import TrainingOptions, train_file
    from hashdesk.assistant.triage.errors import ModelError, TrainingDataError
    from hashdesk.assistant.triage.features import FeatureSettings
    from hashdesk.core.embeddings import EncoderName

    encoder_name = None if encoder == "none" else cast(EncoderName, encoder)
    features = replace(FeatureSettings(), encoder=encoder_name)
    options = TrainingOptions(
        features=features, validation_share=validation_share, seed=seed,
        min_precision=min_precision, max_oos_answered=max_oos_answered, refit=refit,
    )  # fmt: skip
    try:
        _, report = train_file(
            data_path, model_dir, options, say=lambda line: click.echo(line, err=True)
        )
    except TrainingDataError as error:
        raise click.ClickException(f"Cannot train: {error}") from error
    except (ModelError, OSError) as error:
        raise click.ClickException(f"Cannot write the model to {model_dir}: {error}") from error
    for line in report.lines():
        click.echo(line)
    click.echo(f"trained in {report.seconds_total:.1f} s "
               f"(embedding {report.seconds_embedding:.1f} s; CPU time {report.seconds_cpu:.1f} s)")  # fmt: skip
    if report_path is not None:
        report_path.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")


@triage.command()
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="directory written by 'hashdesk triage train'",
)
def predict(model_dir: Path) -> None:
    """Predict the category of each line read on stdin.

    Prints one JSON object per input line, in order, as soon as the line has arrived (so it
    works in a pipe; lines that arrive together are predicted as one batch):
    {"label": "<label>", "confidence": <0..1>}, or {"label": null, ...} when the classifier
    abstains (a person should decide). Blank lines abstain with confidence 0.
    """
    from hashdesk.assistant.triage import Classifier, ModelError

    try:
        classifier = Classifier.load(model_dir)
    except ModelError as error:
        raise click.ClickException(f"Cannot load the triage model: {error}") from error
    classifier.warm_up()
    for batch in _line_batches(cast(io.BufferedIOBase, sys.stdin.buffer)):
        texts = [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in batch]
        asked = [text for text in texts if text.strip()]
        predictions = iter(classifier.predict(asked))
        for text in texts:
            if text.strip():
                prediction = next(predictions)
                answer = {"label": prediction.label, "confidence": prediction.confidence}
            else:
                answer = {"label": None, "confidence": 0.0}
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _line_batches(stream: io.BufferedIOBase) -> Iterator[list[bytes]]:
    """The complete lines that have arrived, in batches of at most ``PREDICT_BATCH``.

    ``read1`` returns what is there without waiting for more, so a line typed into a pipe is
    answered at once, while a file piped in is read (and encoded) many lines at a time: the
    sentence encoder costs less per text in a batch.
    """
    pending = b""
    while chunk := stream.read1(65536):
        *complete, pending = (pending + chunk).split(b"\n")
        for start in range(0, len(complete), PREDICT_BATCH):
            yield complete[start : start + PREDICT_BATCH]
    if pending:
        yield [pending]
