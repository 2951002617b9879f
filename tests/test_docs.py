"""Every setting is documented (README and secrets.toml.example), and the README's commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from lib.config import Settings, setting_names

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".streamlit" / "secrets.toml.example").read_text()
    for name in setting_names():
        assert f"`{name}`" in readme, name
        assert re.search(rf"^# {name} = ", example, re.M), name


def test_readme_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_settings_never_show_secrets() -> None:
    s = Settings(database_url="postgresql://u:topsecret@db/x", supabase_url="", supabase_key="")
    assert "topsecret" not in repr(s) and "topsecret" not in str(s)
