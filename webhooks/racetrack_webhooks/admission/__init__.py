"""The adapter between AdmissionReview and the rules: pure, dict in and dict out.

``review`` parses a request and builds a response; ``decide`` runs the rules for one request
(validation, or the stamp of the mutating webhook) and says what to answer and which pending
audit event, if any, must be written before answering. The server does the I/O.
"""
