"""Messaging: rendering and sending email (transactional now, marketing with nurture), the
message log, and the local outbox that the embedded mode sends to."""
