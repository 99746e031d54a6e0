"""Cost: the pure model, prices, the figures it reads (model or measured), and its view."""
