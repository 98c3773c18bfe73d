"""Users of the progress page: an operator (staff) and a signed-in visitor who is not staff."""

import pytest
from django.test import Client


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("op", password="op-test-password", is_staff=True)


@pytest.fixture
def operator_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def visitor_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_user("visitor", password="visitor-test-password"))
    return client
