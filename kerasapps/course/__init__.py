"""The course notes come alive: their convolution examples (`convolution`), their table of
networks (`notes`), and pictures of what a trained network computes (`pictures`)."""
