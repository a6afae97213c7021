"""Stage 4, unlearning: the data every method trains on, the one training loop, the method registry
(every handler and forget objective), masked LoRA, and sequential unlearning."""
