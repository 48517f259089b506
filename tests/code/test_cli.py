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
