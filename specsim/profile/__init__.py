"""Profiles: load, validate and save the contract-2 document; query it through the models in
`latency.py` and `acceptance.py`.

A profile is named either by a path to a JSON file or by the name of one shipped in
`specsim/profiles/` (`specsim profile list` shows them).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from specsim.errors import SpecsimError, validation_error
from specsim.profile.schema import SCHEMA_VERSION, Profile

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "profiles"
DEFAULT_PROFILE = "h100-llama2-7b-llama-68m-measured"

__all__ = [
    "DEFAULT_PROFILE",
    "SCHEMA_VERSION",
    "Profile",
    "load_profile",
    "resolve_profile_path",
    "save_profile",
    "shipped_profiles",
]


def shipped_profiles() -> list[str]:
    return sorted(path.stem for path in SHIPPED_DIR.glob("*.json"))


def resolve_profile_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """A shipped name, or a path (relative paths are tried beside `relative_to` first)."""
    text = str(name_or_path)
    shipped = SHIPPED_DIR / f"{text}.json"
    if shipped.exists():
        return shipped
    path = Path(text)
    if relative_to is not None and not path.is_absolute() and (relative_to / path).exists():
        return relative_to / path
    if path.exists():
        return path
    raise SpecsimError(
        f"profile {text!r} is neither a file nor a shipped profile ({', '.join(shipped_profiles())})"
    )


def load_profile(name_or_path: str | Path, relative_to: Path | None = None) -> Profile:
    path = resolve_profile_path(name_or_path, relative_to)
    if path.is_dir():
        raise SpecsimError(f"{path}: a folder, not a profile (a JSON file)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecsimError(f"{path}: cannot read profile ({error.strerror})") from None
    except UnicodeDecodeError:
        raise SpecsimError(f"{path}: not a text file (not UTF-8): a profile is JSON") from None
    except json.JSONDecodeError as error:
        raise SpecsimError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(document, dict):
        raise SpecsimError(f"{path}: a profile must be a JSON object")
    try:
        return Profile.model_validate(document)
    except ValidationError as error:
        raise validation_error(path, error, document) from None


def save_profile(profile: Profile, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.model_dump(mode="json"), indent=1) + "\n")
    return path
