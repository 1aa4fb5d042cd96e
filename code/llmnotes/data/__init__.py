"""Corpora and tasks generated in code: Shakespeare's plays, toy translation, the instruction and
preference task of the RLHF chapters, a sentiment set, and batching."""
