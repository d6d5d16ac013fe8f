"""Core building blocks of tinytorch: tensor and autograd, layers, losses, optimizers, data, training."""
