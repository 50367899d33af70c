-- The demo database: what `bash scripts/serve.sh` serves, and where every example in the docs
-- starts (tests/test_docs.py loads this file into a fresh database of its own for each page).
-- It is loaded into an empty database as it is: no CREATE DATABASE, no USE.

CREATE TABLE users (
  id INT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100),
  email VARCHAR(100) UNIQUE,
  age INT
);

INSERT INTO users (name, email, age) VALUES
  ('Alice', 'alice@example.com', 30),
  ('Bob', 'bob@example.com', 25),
  ('Carol', 'carol@example.com', 41);

-- A column of each kind that docs/values.md shows.
CREATE TABLE products (
  id INT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  price DECIMAL(10, 2) NOT NULL,
  released DATE NULL,
  updated_at DATETIME(3) NULL,
  in_stock BOOLEAN NOT NULL DEFAULT TRUE,
  tags JSON NULL,
  thumbnail VARBINARY(255) NULL
);

INSERT INTO products (name, price, released, updated_at, in_stock, tags, thumbnail) VALUES
  ('Tea', 3.50, '2026-11-01', '2026-11-20 08:15:00.250', TRUE, '["drink", "hot"]', x'89504E47'),
  ('Coffee beans', 12.25, NULL, NULL, FALSE, NULL, NULL);
