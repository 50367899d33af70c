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

-- What real schemas hold besides plain tables, as docs/api.md shows them: a trigger that
-- refuses rows, a CHECK constraint, a generated and an invisible column, a view that takes the
-- writes of the rows it shows and one that takes none.
CREATE TABLE order_lines (
  id INT AUTO_INCREMENT PRIMARY KEY,
  product VARCHAR(40) NOT NULL,
  qty INT NOT NULL,
  unit_price DECIMAL(10, 2) NOT NULL CHECK (unit_price >= 0),
  total DECIMAL(12, 2) AS (qty * unit_price) STORED,
  note VARCHAR(40) INVISIBLE NULL
);

CREATE TRIGGER order_lines_qty BEFORE INSERT ON order_lines FOR EACH ROW
  IF NEW.qty <= 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'qty must be positive'; END IF;

INSERT INTO order_lines (product, qty, unit_price, note) VALUES
  ('Tea', 2, 3.50, 'gift wrap'),
  ('Coffee beans', 1, 12.25, NULL);

CREATE VIEW adults AS SELECT id, name, age FROM users WHERE age >= 18 WITH CHECK OPTION;

CREATE VIEW product_sales AS
  SELECT product, SUM(qty) AS qty, SUM(total) AS revenue FROM order_lines GROUP BY product;
