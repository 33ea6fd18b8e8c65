"""The Training tab: the lesson's models trained on all the ratings, live curves, and what the model learned."""
