-- The admin's password hijacked.
ALTER ROLE postgres PASSWORD 'hijacked';
