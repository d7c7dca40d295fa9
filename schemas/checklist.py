"""The ML Reproducibility Checklist (Pineau, v2.0): item IDs, answers, and the checks a registry can do itself."""

import fnmatch
import posixpath
import shlex

from marshmallow import Schema, ValidationError, fields, validate

from reproreg_schemas.names import validate_multi_line, validate_one_line

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
    ".pb", ".tflite",
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


class ChecklistAnswerSchema(Schema):
    answer = AnswerField(required=True)
    justification = fields.String(required=True, validate=[validate.Length(min=1, max=4000), validate_multi_line])
    evidence = fields.String(load_default=None, allow_none=True,
                             validate=[validate.Length(max=1024), validate_one_line])


class ChecklistField(fields.Field):
    """A mapping of every checklist item ID (MA1 ... ER6) to its answer; all 21 items are required."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("must map each checklist item ID (MA1 ... ER6) to an answer")
        errors: dict[str, list[str] | dict] = {}
        for key in value:
            if key not in ITEMS:
                errors[str(key)] = [f"unknown checklist item; the items are {', '.join(ITEMS)}"]
        answers = {}
        for item, text in ITEMS.items():
            if item not in value:
                errors[item] = [f"missing answer to {item}: {text}"]
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


def _is_dependency_file(path: str) -> bool:
    base = posixpath.basename(path).lower()
    return any(fnmatch.fnmatch(base, pattern) for pattern in DEPENDENCY_FILES)


def _is_weights_file(path: str) -> bool:
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
        "CO1": (any(map(_is_dependency_file, paths)),
                "answered yes, but no dependency file (requirements.txt, pyproject.toml, environment.yml, "
                "a lock file) is in the manifest"),
        "CO3": (bool(command and command_files(command, path_set)),
                "answered yes, but the evaluation command names no file of the manifest"),
        "CO4": (any(map(_is_weights_file, paths)),
                "answered yes, but no weights file (.safetensors, .bin, .pt, .onnx, ...) is in the manifest"),
    }
    warnings = []
    for item, (holds, message) in checks.items():
        answer = (checklist or {}).get(item, {}).get("answer")
        if answer == "yes" and not holds:
            warnings.append({"item": item, "message": message})
    return warnings
