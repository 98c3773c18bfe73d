from django import forms

from web.recommender.models import RATING_VALUES


class RatingForm(forms.Form):
    user_id = forms.IntegerField(min_value=1, label="User id")
    rating = forms.TypedChoiceField(
        choices=[(str(v), f"{v:g} ★") for v in RATING_VALUES], coerce=float, label="Your rating"
    )
