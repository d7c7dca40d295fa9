"""The ML Reproducibility Checklist (Pineau, v2.0): item IDs, answers, and the checks a registry can do itself."""

import fnmatch
import posixpath
import shlex

from marshmallow import ValidationError, fields, validate

from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_multi_line, validate_one_line
from reproreg_schemas.vocabulary import ChecklistState

ITEMS: dict[str, str] = {
    "MA1": "A clear description of the mathematical setting, algorithm, and/or model.",
    "MA2": "A clear explanation of any assumptions.",
    "MA3": "An analysis of the complexity (time, space, sample size) of any algorithm.",
    "TC1": "A clear statement of the claim.",
    "TC2": "A complete proof of the claim.",
    "DS1": "The relevant statistics, such as number of examples.",
    "DS2": "The details of train / validation / test splits.",
    "DS3": "An explanation of any data that were excluded, and all pre-processing step.",
    "DS4": "A link to a downloadable version of the dataset or simulation environment.",
    "DS5": "For new data collected, a complete description of the data collection process, such as "
    "instructions to annotators and methods for quality control.",
    "CO1": "Specification of dependencies.",
    "CO2": "Training code.",
    "CO3": "Evaluation code.",
    "CO4": "(Pre-)trained model(s).",
    "CO5": "README file includes table of results accompanied by precise command to run to produce those results.",
    "ER1": "The range of hyper-parameters considered, method to select the best hyper-parameter configuration, "
    "and specification of all hyper-parameters used to generate results.",
    "ER2": "The exact number of training and evaluation runs.",
    "ER3": "A clear definition of the specific measure or statistics used to report results.",
    "ER4": "A description of results with central tendency (e.g. mean) & variation (e.g. error bars).",
    "ER5": "The average runtime for each result, or estimated energy cost.",
    "ER6": "A description of the computing infrastructure used.",
}

ANSWERS = ("yes", "no", "n/a")

DEPENDENCY_FILES = (
    "requirements*.txt", "requirements*.in", "pyproject.toml", "setup.py", "setup.cfg", "environment.yml",
    "environment.yaml", "conda-lock.yml", "pipfile", "pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock",
)
WEIGHT_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".keras", ".onnx", ".npz", ".msgpack", ".gguf",
    ".pb", ".tflite", ".joblib", ".pkl",
)


class AnswerField(fields.String):
    """yes / no / n/a; YAML 1.1 turns a bare ``yes``/``no`` into booleans, so those are accepted too."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True:
            value = "yes"
        elif value is False:
            value = "no"
        value = super()._deserialize(value, attr, data, **kwargs)
        normalised = value.strip().lower()
        if normalised in ("na", "n.a.", "not applicable"):
            normalised = "n/a"
        if normalised not in ANSWERS:
            raise ValidationError(f"answer must be one of yes, no, n/a (got {value!r})")
        return normalised


_NO_ANSWER = "give an answer: yes, no or n/a (or leave the item empty: unanswered)"
_NO_JUSTIFICATION = "an answer needs a justification (a sentence or two)"


class ChecklistAnswerSchema(Schema):
    answer = AnswerField(required=True, error_messages={"required": _NO_ANSWER, "null": _NO_ANSWER})
    justification = fields.String(required=True, validate=[validate.Length(min=1, max=4000), validate_multi_line],
                                  error_messages={"required": _NO_JUSTIFICATION, "null": _NO_JUSTIFICATION})
    evidence = fields.String(load_default=None, allow_none=True,
                             validate=[validate.Length(max=1024), validate_one_line])

    error_messages = {"unknown": "unknown field; an answer has answer, justification and evidence",
                      "type": "must be a mapping {answer, justification, evidence}"}


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_unanswered(value) -> bool:
    """An item left as ``regctl init`` writes it: no answer, no justification, no evidence (or nothing at all)."""
    return value is None or (isinstance(value, dict) and all(_is_blank(value.get(key)) for key in
                                                             ("answer", "justification", "evidence"))
                             and set(value) <= {"answer", "justification", "evidence"})


class ChecklistField(fields.Field):
    """A mapping of checklist item IDs (MA1 ... ER6) to their answers.

    Items may be left unanswered (absent, or with an empty answer, justification and evidence): a version may be
    published as a draft with a partly answered checklist, and shows how many items are answered. The loaded value
    holds the answered items only, in the checklist's order."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_default", dict)
        super().__init__(**kwargs)

    def deserialize(self, value, *args, **kwargs):
        return super().deserialize({} if value is None else value, *args, **kwargs)  # `checklist:` left empty

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("must map each checklist item ID (MA1 ... ER6) to an answer")
        errors: dict[str, list[str] | dict] = {}
        for key in value:
            if key not in ITEMS:
                errors[str(key)] = [f"unknown checklist item; the items are {', '.join(ITEMS)}"]
        answers = {}
        for item in ITEMS:
            if item not in value or is_unanswered(value[item]):
                continue
            try:
                answers[item] = ChecklistAnswerSchema().load(value[item])
            except ValidationError as err:
                errors[item] = err.messages
        if errors:
            raise ValidationError(errors)
        return answers

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return {item: ChecklistAnswerSchema().dump(answer) for item, answer in value.items()}


def checklist_summary(answered_items, warnings: list[dict]) -> dict:
    """How far a checklist is answered: ``answered`` of ``items``, the items still ``unanswered``, and its
    ``state``: complete (every item answered, none contradicted by the files), warnings (every item answered,
    some contradicted) or incomplete (a draft)."""
    answered = set(answered_items)
    unanswered = [item for item in ITEMS if item not in answered]
    if unanswered:
        state = ChecklistState.INCOMPLETE
    else:
        state = ChecklistState.WARNINGS if warnings else ChecklistState.COMPLETE
    return {"answered": len(ITEMS) - len(unanswered), "items": len(ITEMS), "state": state,
            "unanswered": unanswered, "warnings": list(warnings)}


def is_dependency_file(path: str) -> bool:
    base = posixpath.basename(path).lower()
    return any(fnmatch.fnmatch(base, pattern) for pattern in DEPENDENCY_FILES)


def is_weights_file(path: str) -> bool:
    return path.lower().endswith(WEIGHT_SUFFIXES)


def command_files(command: str, paths: set[str]) -> list[str]:
    """The manifest files that an evaluation command names (``eval.py`` or ``{files}/eval.py``)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    named = []
    for token in tokens:
        for candidate in (token, token.removeprefix("{files}/"), token.split("=", 1)[-1].removeprefix("{files}/")):
            if candidate in paths and candidate not in named:
                named.append(candidate)
    return named


def mechanical_warnings(checklist: dict, paths: list[str], command: str | None) -> list[dict]:
    """Checklist answers of "yes" that the files contradict (CO1, CO3, CO4)."""
    path_set = set(paths)
    checks = {
        "CO1": (any(map(is_dependency_file, paths)),
                "answered yes, but no dependency file (requirements.txt, pyproject.toml, environment.yml, "
                "a lock file) is in the manifest"),
        "CO3": (bool(command and command_files(command, path_set)),
                "answered yes, but the evaluation command names no file of the manifest"),
        "CO4": (any(map(is_weights_file, paths)),
                "answered yes, but no weights file (.safetensors, .bin, .pt, .onnx, ...) is in the manifest"),
    }
    warnings = []
    for item, (holds, message) in checks.items():
        answer = (checklist or {}).get(item, {}).get("answer")
        if answer == "yes" and not holds:
            warnings.append({"item": item, "message": message})
    return warnings
