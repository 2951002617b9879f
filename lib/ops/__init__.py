"""Operations: the embedded PostgreSQL server, migrations, demo data and operator commands."""
