"""Labelled examples: reading the operator's training file and carving a validation split.

Two layouts, told apart by the header line:

- CSV with the header ``text,category`` (read with a real CSV parser, so a quoted text may hold
  commas and line breaks);
- TSV with the header ``text<TAB>label`` (extra columns after these two are ignored).

The label ``oos`` marks an example of what is not ours to answer: the classifier learns it as a
reject class and never outputs it.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from hashdesk.assistant.triage.errors import TrainingDataError

OOS_LABEL = "oos"


@dataclass(frozen=True)
class Examples:
    texts: list[str]
    labels: list[str]
    skipped: int = 0  # rows without a text: nothing to learn from them, so they are left out

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indexes: list[int]) -> Examples:
        return Examples([self.texts[i] for i in indexes], [self.labels[i] for i in indexes])

    @property
    def in_scope_labels(self) -> list[str]:
        return sorted({label for label in self.labels if label != OOS_LABEL})

    @property
    def has_oos(self) -> bool:
        return OOS_LABEL in self.labels


def read_examples(path: Path) -> Examples:
    """The examples of ``path``, or a ``TrainingDataError`` that says what is wrong with it."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise TrainingDataError("{path}: no such file", path=str(path)) from error
    except UnicodeDecodeError as error:
        raise TrainingDataError("{path}: not UTF-8 text", path=str(path)) from error
    except OSError as error:
        raise TrainingDataError(
            "{path}: cannot read it ({reason})", path=str(path), reason=error.strerror
        ) from error
    return parse_examples(content, source=str(path))


def parse_examples(content: str, *, source: str = "the training data") -> Examples:
    if not content.strip():
        raise TrainingDataError("{source} is empty", source=source)
    header_line = content.splitlines()[0]
    delimiter, label_column = _layout(header_line, source)
    # TSV files are not quoted: a '"' inside a text is just a character there.
    if delimiter == "\t":
        reader = csv.reader(io.StringIO(content), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(io.StringIO(content))
    next(reader)
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not row[0].strip():
                skipped += 1
                continue
            text, label = _text_and_label(row, reader.line_num, source, label_column)
            texts.append(text)
            labels.append(label)
    except csv.Error as error:
        raise TrainingDataError(
            "{source}, line {line}: {reason}", source=source, line=reader.line_num,
            reason=str(error),
        ) from error  # fmt: skip
    examples = Examples(texts, labels, skipped)
    check_trainable(examples, source)
    return examples


def _layout(header_line: str, source: str) -> tuple[str, str]:
    tab_header = [cell.strip().lower() for cell in header_line.split("\t")]
    if tab_header[:2] == ["text", "label"]:
        return "\t", "label"
    comma_header = [cell.strip().strip('"').lower() for cell in header_line.split(",")]
    if comma_header[:2] == ["text", "category"]:
        return ",", "category"
    raise TrainingDataError(
        "{source}: the first line must be the header 'text,category' (CSV) or "
        "'text<TAB>label' (TSV), not {header!r}",
        source=source, header=header_line[:80],
    )  # fmt: skip


def _text_and_label(row: list[str], line: int, source: str, label_column: str) -> tuple[str, str]:
    if len(row) < 2:
        raise TrainingDataError(
            "{source}, line {line}: missing the {column} column",
            source=source, line=line, column=label_column,
        )  # fmt: skip
    text, label = row[0].strip(), row[1].strip()
    if not label:
        raise TrainingDataError(
            "{source}, line {line}: empty {column}", source=source, line=line, column=label_column
        )
    return text, label


def check_trainable(examples: Examples, source: str) -> None:
    if not examples.texts:
        raise TrainingDataError("{source} has a header but no examples", source=source)
    in_scope = examples.in_scope_labels
    if len(in_scope) < 2:
        raise TrainingDataError(
            "{source}: a classifier needs at least two categories besides 'oos'; found {found}",
            source=source, found=", ".join(in_scope) or "none",
        )  # fmt: skip


def stratified_split(
    examples: Examples, validation_share: float, seed: int
) -> tuple[list[int], list[int]]:
    """Training and validation row indexes, each label split in the same proportion.

    A label with fewer than three examples stays wholly in training: one held-out example
    says nothing about a threshold, and the model needs at least one to learn the label.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(examples.labels):
        by_label[label].append(index)
    shuffle = random.Random(seed).shuffle  # noqa: S311 - a reproducible split, not a secret
    training: list[int] = []
    validation: list[int] = []
    for label in sorted(by_label):
        indexes = by_label[label]
        shuffle(indexes)
        held_out = round(len(indexes) * validation_share) if len(indexes) >= 3 else 0
        validation.extend(indexes[:held_out])
        training.extend(indexes[held_out:])
    return sorted(training), sorted(validation)


def label_counts(examples: Examples) -> Counter[str]:
    return Counter(examples.labels)
