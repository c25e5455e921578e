"""What the `etl` commands print: no password unless asked, no terminal escape from a file name (issue #25.10)."""

import pytest

from etl_project.cli import main
from etl_project.resources.postgres import redact_url

SECRET = "s3cr3t-pw"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://etl:{SECRET}@db.example:5432/etl",
        f"postgresql://etl@db.example/etl?sslmode=require&password={SECRET}",
        f"host=db.example password={SECRET} dbname=etl",
        f"host=db.example password = '{SECRET} with \\' quote' dbname=etl",
        f"postgresql://etl@db.example/etl?sslpassword={SECRET}",
    ],
)
def test_redact_url_masks_every_form_of_password(url):
    redacted = redact_url(url)
    assert SECRET not in redacted and "***" in redacted
    assert "db.example" in redacted


def test_db_url_masks_the_password_unless_asked(monkeypatch, capsys):
    monkeypatch.setenv("ETL_DATABASE_URL", f"postgresql://etl:{SECRET}@db.example:5432/etl")
    assert main(["db-url"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql://etl:***@db.example:5432/etl"
    assert main(["db-url", "--show-password"]) == 0
    assert capsys.readouterr().out.strip() == f"postgresql://etl:{SECRET}@db.example:5432/etl"


def test_quarantine_list_and_status_escape_control_characters(database_url, db, monkeypatch, capsys):
    hostile = "evil\x1b[2J\x1b]0;pwned\x07"
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO utilities.processed_files (filename, batch_id, status, error) "
            "VALUES (%s, %s, 'quarantined', %s)",
            (f"{hostile}.csv", hostile, f"{hostile}.csv: wrong header \x1b[31m"),
        )
    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    assert main(["quarantine", "list"]) == 0
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07" in out
