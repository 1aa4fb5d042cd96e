"""Whole models: the encoder-decoder Transformer, GPT, BERT, LLaMA, recurrent networks."""
