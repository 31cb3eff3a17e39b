"""The hub's own identifiers are UUIDv7: valid UUIDs that sort in the order they were
made (their indexes grow at one end), without repeating."""
import uuid

from hub.domain.ids import new_id


def test_ids_are_version_7_uuids_in_the_order_they_were_made():
    ids = [new_id() for _ in range(5000)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_a_new_case_gets_a_time_ordered_id(hub, backoffice):
    from tests.helpers import create_req
    first = backoffice.CreateCase(create_req()).case_id
    second = backoffice.CreateCase(create_req()).case_id
    assert uuid.UUID(first).version == 7 and first < second
