-- The outbox drained by several appliances at once (issue 18 item 4): a node claims the due
-- messages it is about to send with `SELECT … FOR UPDATE SKIP LOCKED` and marks each claimed
-- until a time (`store::pg::outbox::claim`). Other nodes skip a message whose claim has not
-- run out, so a message is sent by one node; a node that crashes holding a claim delays that
-- message only until the claim runs out, when another node takes it. Recording the attempt
-- (sent, retry, failed) or re-queueing ends the claim. SQLite's single writer needs no such
-- column: one process drains its file.
ALTER TABLE outbox ADD COLUMN claimed_until TEXT COLLATE "C";
