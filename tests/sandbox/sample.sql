-- Sample schema for mdlsafe demos and tests. Idempotent: recreates `shop`.
--   mariadb --defaults-file="$SANDBOX_CNF" < tests/sandbox/sample.sql
-- Row data is deterministic (no RAND()/NOW()) and generated with MariaDB's
-- Sequence engine tables (seq_1_to_N).

DROP DATABASE IF EXISTS shop;
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE shop;

CREATE TABLE users (
    id            INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(255) NOT NULL,
    email         VARCHAR(255) NOT NULL,
    registered_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY uk_users_email (email)
) ENGINE=InnoDB;

CREATE TABLE orders (
    id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    INT NOT NULL,
    amount     DECIMAL(10,2) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY idx_orders_user_id (user_id)
) ENGINE=InnoDB;

CREATE TABLE audit_log (
    id      BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event   VARCHAR(64) NOT NULL,
    payload JSON
) ENGINE=InnoDB;

INSERT INTO users (id, username, email, registered_at)
SELECT seq,
       CONCAT('user', seq),
       CONCAT('user', seq, '@example.com'),
       TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq HOUR
FROM seq_1_to_500;

INSERT INTO orders (id, user_id, amount, created_at)
SELECT seq,
       1 + (seq * 7) % 500,
       ((seq * 1237) % 100000) / 100,
       TIMESTAMP'2024-02-01 00:00:00' + INTERVAL seq * 13 MINUTE
FROM seq_1_to_800;

INSERT INTO audit_log (id, event, payload)
SELECT seq,
       ELT(1 + seq % 4, 'login', 'logout', 'order_created', 'password_changed'),
       JSON_OBJECT('user_id', 1 + (seq * 11) % 500,
                   'ip', CONCAT('192.0.2.', seq % 250),
                   'seq', seq)
FROM seq_1_to_300;
