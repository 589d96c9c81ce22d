import pytest

from khien.conftest import _user


@pytest.fixture
def head(world):
    """A second administrator of the ministry: the approver where the owner decides (levels 1-3), since the person who
    appraised a proposal may not also approve it."""
    from khien.core.roles import Role

    return _user("head@min.test.vn", world.ministry, Role.ORG_ADMIN)


@pytest.fixture
def deputy_coordinator(world):
    """A second national coordinator: the approver of levels 4-5 after the first one appraised."""
    from khien.core.roles import Role

    return _user("deputy@test.vn", world.ncsc, Role.NATIONAL_COORDINATOR)
