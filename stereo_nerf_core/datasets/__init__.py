"""Readers of multi-view datasets used to train and score the neural fields (DTU in the IDR/NeuS format)."""
