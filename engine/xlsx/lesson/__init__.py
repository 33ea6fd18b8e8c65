"""The course's own workbook: a collab sheet laid out as the lesson's (collab_filter.xlsx), read for the engine.

Nothing is found by position. The loss cell's formula =SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings))
names the ratings and the predictions; each prediction's =IF(rating="",0,MMULT(user row, movie column))
names the factors (and, on the sheet with biases, + the movie's and the user's bias). User ids sit in
the column left of the ratings, movie ids in the row above. The workbook's other sheets, pivot tables
and macros are never read or run.
"""
from collabsheet.engine.xlsx.lesson.read import import_lesson, list_collab_sheets

__all__ = ["import_lesson", "list_collab_sheets"]
