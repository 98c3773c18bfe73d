"""Users of the progress page: an operator (group "operators") and a signed-in visitor who is not one."""

import pytest
from django.test import Client

from tests.account_helpers import make_operator


@pytest.fixture
def operator(db):
    return make_operator("op", password="op-test-password")[0]


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
