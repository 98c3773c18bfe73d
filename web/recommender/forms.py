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
    """Django's sign-up form; the profile (and its user id) is created with the account."""
