-- Another database made unusable through the catalog.
UPDATE pg_database SET datallowconn = false WHERE datname = 'victim';
