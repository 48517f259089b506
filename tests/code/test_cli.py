"""The command line's own helpers."""

from typer.testing import CliRunner

from cli.main import app, masked


def test_masked_hides_a_database_password():
    assert (
        masked("postgresql+psycopg://mz:s3cret@127.0.0.1:5432/mlflow")
        == "postgresql+psycopg://mz:***@127.0.0.1:5432/mlflow"
    )
    assert masked("sqlite:////tmp/state/mlflow.db") == "sqlite:////tmp/state/mlflow.db"


def test_train_unknown_family_names_the_choices():
    result = CliRunner().invoke(app, ["train", "weather"])
    assert result.exit_code != 0
    assert "grazing" in result.output and "weather" in result.output


def test_keys_new_prints_a_key_and_only_its_hash_entry():
    result = CliRunner().invoke(app, ["keys", "new", "--role", "planner", "--name", "tester"])
    assert result.exit_code == 0
    key = result.output.split("it is not stored anywhere): ")[1].split()[0]
    entry = result.output.split("settings entry: ")[1]
    assert key.startswith("mz_") and key not in entry and '"role": "planner"' in entry


def test_keys_demo_writes_the_keys_readable_by_their_owner_only(tmp_path):
    out = tmp_path / "state" / "demo-keys.env"
    out.parent.mkdir()
    out.with_suffix(".txt").write_text("old\n")
    out.with_suffix(".txt").chmod(0o644)  # a file left by an earlier run keeps no looser mode

    result = CliRunner().invoke(app, ["keys", "demo", "--out", str(out)])

    assert result.exit_code == 0, result.output
    for path in (out, out.with_suffix(".txt")):
        assert path.stat().st_mode & 0o777 == 0o600, path.name
    assert out.with_suffix(".txt").read_text().startswith("planner")
