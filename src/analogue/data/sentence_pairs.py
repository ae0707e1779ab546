"""A small graded sentence-similarity set written for this package (no download, no licence
beyond the package's own): 80 sentence pairs, each with a similarity from 0 (unrelated) to 5
(same meaning) assigned by hand in the style of the STS benchmark (Cer et al., SemEval 2017):

5: paraphrase; 4: same event, a detail differs; 3: same topic, the statement differs;
2: related topic; 1: same broad domain; 0: unrelated.

It is shipped as Python data (not a data file) so it is part of every installation.
"""

from __future__ import annotations

SENTENCE_PAIRS: tuple[tuple[str, str, float], ...] = (
    # 5: paraphrases
    ("A man is playing a guitar.", "A man plays the guitar.", 5.0),
    ("The cat is sleeping on the sofa.", "A cat sleeps on the couch.", 5.0),
    ("The train to Berlin leaves at noon.", "The Berlin train departs at twelve o'clock.", 5.0),
    ("She bought a new car yesterday.", "Yesterday she purchased a new car.", 5.0),
    ("The children are playing in the park.", "Kids are playing in the park.", 5.0),
    ("The meeting has been postponed until Friday.", "The meeting was moved to Friday.", 5.0),
    ("It is raining heavily in the city.", "There is heavy rain in the city.", 5.0),
    ("The chef is cutting onions.", "A cook is chopping onions.", 5.0),
    ("He forgot his keys at home.", "He left his keys at home.", 5.0),
    ("The store closes at nine in the evening.", "The shop shuts at 9 pm.", 5.0),
    ("A woman is riding a horse.", "A lady rides a horse.", 5.0),
    ("The price of oil rose sharply today.", "Oil prices climbed steeply today.", 5.0),
    ("The doctor examined the patient.", "The patient was examined by the doctor.", 5.0),
    ("Two dogs are running on the beach.", "A pair of dogs runs along the beach.", 5.0),
    # 4: same event, a detail differs
    ("A man is playing a guitar.", "A man is playing a guitar on stage.", 4.0),
    ("The cat is sleeping on the sofa.", "The cat is sleeping on the bed.", 4.0),
    ("She bought a new car yesterday.", "She bought a used car last week.", 4.0),
    ("The children are playing in the park.", "The children are playing football in the park.", 4.0),
    ("The chef is cutting onions.", "The chef is cutting carrots.", 4.0),
    ("A woman is riding a horse.", "A woman is riding a horse across a field.", 4.0),
    ("The price of oil rose sharply today.", "The price of gas rose sharply today.", 4.0),
    ("Two dogs are running on the beach.", "Three dogs are running on the beach.", 4.0),
    ("The plane landed safely in Paris.", "The plane landed in Paris an hour late.", 4.0),
    ("The team won the match in the final minute.", "The team won the match on penalties.", 4.0),
    ("A girl is reading a book under a tree.", "A girl is reading a magazine under a tree.", 4.0),
    ("The company hired fifty new engineers.", "The company hired twenty new engineers.", 4.0),
    ("He is drinking a cup of coffee.", "He is drinking a cup of tea.", 4.0),
    # 3: same topic, the statement differs
    ("A man is playing a guitar.", "A man is tuning his guitar.", 3.0),
    ("The train to Berlin leaves at noon.", "The train to Berlin is delayed.", 3.0),
    ("The meeting has been postponed until Friday.", "The meeting starts at ten on Monday.", 3.0),
    ("It is raining heavily in the city.", "The city streets are flooded.", 3.0),
    ("The doctor examined the patient.", "The patient waited for the doctor.", 3.0),
    ("The plane landed safely in Paris.", "The plane took off from Paris.", 3.0),
    ("The team won the match in the final minute.", "The team lost the match badly.", 3.0),
    ("The company hired fifty new engineers.", "The company laid off fifty engineers.", 3.0),
    ("He is drinking a cup of coffee.", "He is making a pot of coffee.", 3.0),
    ("The students are studying for the exam.", "The students failed the exam.", 3.0),
    ("A baby is crying in the crib.", "A baby is sleeping in the crib.", 3.0),
    ("The museum opens a new exhibition today.", "The museum is closed today.", 3.0),
    ("The river flooded the village.", "The village was hit by a storm.", 3.0),
    # 2: related topic
    ("A man is playing a guitar.", "A woman is singing a song.", 2.0),
    ("The cat is sleeping on the sofa.", "The dog is barking at the door.", 2.0),
    ("She bought a new car yesterday.", "The car needs new tyres.", 2.0),
    ("The chef is cutting onions.", "The restaurant is full tonight.", 2.0),
    ("The price of oil rose sharply today.", "The stock market fell this morning.", 2.0),
    ("Two dogs are running on the beach.", "People are swimming in the sea.", 2.0),
    ("The plane landed safely in Paris.", "Tourists visit the Eiffel Tower.", 2.0),
    ("The doctor examined the patient.", "The hospital needs more nurses.", 2.0),
    ("The students are studying for the exam.", "The teacher is grading essays.", 2.0),
    ("It is raining heavily in the city.", "The weather will be sunny tomorrow.", 2.0),
    ("The team won the match in the final minute.", "The fans are singing in the stadium.", 2.0),
    ("A girl is reading a book under a tree.", "The library has many old books.", 2.0),
    ("He forgot his keys at home.", "The door of the house is locked.", 2.0),
    # 1: same broad domain
    ("A man is playing a guitar.", "A man is riding a bicycle.", 1.0),
    ("The train to Berlin leaves at noon.", "The museum opens a new exhibition today.", 1.0),
    ("The company hired fifty new engineers.", "The students are studying for the exam.", 1.0),
    ("A woman is riding a horse.", "A woman is cooking dinner.", 1.0),
    ("The chef is cutting onions.", "A man is cutting the grass.", 1.0),
    ("The price of oil rose sharply today.", "The company hired fifty new engineers.", 1.0),
    ("Two dogs are running on the beach.", "A cat is climbing a tree.", 1.0),
    ("He is drinking a cup of coffee.", "He is reading the newspaper.", 1.0),
    ("The doctor examined the patient.", "The lawyer spoke to the judge.", 1.0),
    ("The plane landed safely in Paris.", "The ship sailed from the harbour.", 1.0),
    ("The river flooded the village.", "The farmers harvested the wheat.", 1.0),
    ("A baby is crying in the crib.", "An old man is walking with a cane.", 1.0),
    ("The meeting has been postponed until Friday.", "The concert was cancelled.", 1.0),
    # 0: unrelated
    ("A man is playing a guitar.", "The price of oil rose sharply today.", 0.0),
    ("The cat is sleeping on the sofa.", "The company hired fifty new engineers.", 0.0),
    ("The train to Berlin leaves at noon.", "A baby is crying in the crib.", 0.0),
    ("She bought a new car yesterday.", "The river flooded the village.", 0.0),
    ("The children are playing in the park.", "The stock market fell this morning.", 0.0),
    ("The chef is cutting onions.", "The plane landed safely in Paris.", 0.0),
    ("It is raining heavily in the city.", "He forgot his keys at home.", 0.0),
    ("The doctor examined the patient.", "Two dogs are running on the beach.", 0.0),
    ("A woman is riding a horse.", "The meeting has been postponed until Friday.", 0.0),
    ("The team won the match in the final minute.", "A girl is reading a book under a tree.", 0.0),
    ("He is drinking a cup of coffee.", "The museum opens a new exhibition today.", 0.0),
    ("The students are studying for the exam.", "The cat is sleeping on the sofa.", 0.0),
    ("A baby is crying in the crib.", "The price of gas rose sharply today.", 0.0),
    ("The store closes at nine in the evening.", "A woman is riding a horse across a field.", 0.0),
)

__all__ = ["SENTENCE_PAIRS"]
