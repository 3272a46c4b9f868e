"""PostgreSQL: connection pool, migrations, one repository module per table family."""
