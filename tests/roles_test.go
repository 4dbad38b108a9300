package tests

import "testing"

func TestRoleCRUD(t *testing.T) {
	t.Parallel()
	testCRUD(t, roleEntity)
}

func TestRoleList(t *testing.T) {
	t.Parallel()
	testList(t, roleEntity)
}

func TestRoleBadInput(t *testing.T) {
	t.Parallel()
	testBadInput(t, roleEntity)
}
