"""The body model stays behind `rohm.body`: outside it, only rohm.config names the default body."""

from pathlib import Path

ROHM = Path(__file__).resolve().parents[1] / "rohm"
ALLOWED = {"config.py": 'DEFAULT_BODY = "anny"'}  # file under rohm/ -> the start of its one allowed line


def body_name_hits(root: Path = ROHM) -> list[str]:
    """file:line for every mention of the default body's name in the package at `root` outside
    its body/ folder, except the one allowed line."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] == "body":
            continue
        allowed = ALLOWED.get(relative.as_posix())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "anny" in line.lower() and not (allowed and line.startswith(allowed)):
                hits.append(f"rohm/{relative.as_posix()}:{number}: {line.strip()}")
    return hits


def test_only_config_names_the_default_body() -> None:
    hits = body_name_hits()
    assert not hits, "body model named outside rohm/body/:\n" + "\n".join(hits)


def test_the_scan_finds_a_mention(tmp_path: Path) -> None:
    """Negative control: a module that names the body is reported."""
    (tmp_path / "body").mkdir()
    (tmp_path / "body" / "inside.py").write_text('NAME = "anny"\n')
    (tmp_path / "config.py").write_text('DEFAULT_BODY = "anny"  # allowed\n')
    (tmp_path / "leak.py").write_text('"""Uses the Anny body."""\n')
    assert body_name_hits(tmp_path) == ['rohm/leak.py:1: """Uses the Anny body."""']
