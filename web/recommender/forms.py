from typing import ClassVar

from django import forms
from django.contrib.auth.forms import UserCreationForm

from web.recommender.models import RATING_VALUES


class RatingForm(forms.Form):
    """The star widget: a rating in half stars, or ``remove`` to delete the rating."""

    rating = forms.TypedChoiceField(
        choices=[(str(v), f"{v:g} ★") for v in RATING_VALUES], coerce=float, required=False, label="Your rating"
    )
    remove = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("remove") and data.get("rating") in (None, ""):
            raise forms.ValidationError("Choose a rating from 0.5 to 5 stars, or remove it.")
        return data


class SignUpForm(UserCreationForm):
    """Django's sign-up form; the profile (and its user id) is created with the account.

    Each field's help is said in a line (Django's password help is a list of its validators' rules): the page shows it
    under the field with the id that the field's ``aria-describedby`` names, so a screen reader reads it too."""

    HELP: ClassVar[dict[str, str]] = {
        "username": "Letters, digits and @ . + - _ only (no spaces).",
        "password1": "At least 8 characters, not too common, not all digits, not like your username.",
        "password2": "The same password again.",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, help_text in self.HELP.items():
            self.fields[name].help_text = help_text
