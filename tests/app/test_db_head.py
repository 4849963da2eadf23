from app.storage import db


def test_head_constant_matches_the_migrations():
    # open_database skips importing Alembic when the file is at db.HEAD.
    assert db.HEAD == db.head_revision()


def test_up_to_date_database_opens_without_migrating(tmp_path):
    from app.storage import open_database

    open_database(tmp_path / "t.db").close()
    engine = db.make_engine(tmp_path / "t.db")
    assert db._at_head(engine)
