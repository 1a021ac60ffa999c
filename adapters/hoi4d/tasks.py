"""HOI4D's task of a sequence from its path's `C*` (object category) and `T*` (task) ids, as the maker defines them
(leolyliu/HOI4D-Instructions@1547866:definitions/task/task_definitions.csv, its "N/A" cells left out; categories as
README.md:31-40 lists them). The release does not ship this table beside the data, so it is kept here."""

from __future__ import annotations

# category id -> (category, tasks T1, T2, ...)
TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "C1": ("Toy Car", ("Pick and place", "Push toy car", "Put it in the drawer", "Take it out of the drawer")),
    "C2": (
        "Mug",
        (
            "Pick and place",
            "Put it in the drawer",
            "Take it out of the drawer",
            "Fill with water by a kettle",
            "Pour water into another mug",
            "Pick and place (with water)",
        ),
    ),
    "C3": ("Laptop", ("Pick and place", "Open and close the display")),
    "C4": (
        "Storage Furniture",
        (
            "Open and close the drawer",
            "Open and close the door",
            "Put the drink in the door",
            "Put the drink in the drawer",
        ),
    ),
    "C5": (
        "Bottle",
        (
            "Pick and place",
            "Pour all the water into a mug",
            "Put it in the drawer",
            "Take it out of the drawer",
            "Reposition the bottle",
            "Pick and place (with water)",
        ),
    ),
    "C6": ("Safe", ("Open and close the door", "Put something in it", "Take something out of it")),
    "C7": (
        "Bowl",
        (
            "Pick and place",
            "Put it in the drawer",
            "Take it out of the drawer",
            "Take the ball out of the bowl",
            "Put the ball in the bowl",
            "Pick and place (with ball)",
        ),
    ),
    "C8": ("Bucket", ("Pick and place", "Pour water into another bucket")),
    "C9": ("Scissors", ("Pick and place", "Cut something")),
    "C11": ("Pliers", ("Pick and place", "Take it out of the drawer", "Put it in the drawer", "Clamp something")),
    "C12": ("Kettle", ("Pick and place", "Pour water into a mug")),
    "C13": ("Knife", ("Pick and place", "Take it out of the drawer", "Put it in the drawer", "Cut apple")),
    "C14": ("Trash Can", ("Open and close", "Throw something in it")),
    "C17": ("Lamp", ("Pick and place", "Turn and fold", "Turn on and turn off")),
    "C18": ("Stapler", ("Pick and place", "Bind the paper")),
    "C20": (
        "Chair",
        (
            "Pick and place to the original position",
            "Pick and place to the original position",
            "Pick and place to a new position",
            "Pick and place to a new position",
        ),
    ),
}


def task_text(category: str, task: str) -> str | None:
    """ "<category>: <task>" for ids like "C5", "T2"; None when the table has no such pair."""
    entry = TASKS.get(category)
    if entry is None or not task.startswith("T") or not task[1:].isdigit():
        return None
    k = int(task[1:]) - 1
    return f"{entry[0]}: {entry[1][k]}" if 0 <= k < len(entry[1]) else None
