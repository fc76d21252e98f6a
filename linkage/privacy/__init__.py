"""Re-identification attacks on encodings, and the audit that runs them (computation only).

Run by a linkage unit, a council or a regulator to measure how exposed an encoding is before
data moves. The attacks know the encoding scheme (the schema is public) but never the key.
"""
