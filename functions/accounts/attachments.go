package accounts

import (
	"net/http"

	"github.com/realmiam/realmiam/shared/attachment"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/tenant"
)

// The groups, roles and policies attached to an account: PUT attaches
// (idempotent), DELETE detaches (idempotent), GET lists in name order.
// Quotas: 100 groups, 20 roles, 20 policies (package attachment).

func (s *Server) listAccountGroups(w http.ResponseWriter, r *http.Request) error {
	return s.listAttached(w, r, attachment.AccountGroups)
}

func (s *Server) attachAccountGroup(w http.ResponseWriter, r *http.Request) error {
	return s.attach(w, r, attachment.AccountGroups, "groupId")
}

func (s *Server) detachAccountGroup(w http.ResponseWriter, r *http.Request) error {
	return s.detach(w, r, attachment.AccountGroups, "groupId")
}

func (s *Server) listAccountRoles(w http.ResponseWriter, r *http.Request) error {
	return s.listAttached(w, r, attachment.AccountRoles)
}

func (s *Server) attachAccountRole(w http.ResponseWriter, r *http.Request) error {
	return s.attach(w, r, attachment.AccountRoles, "roleId")
}

func (s *Server) detachAccountRole(w http.ResponseWriter, r *http.Request) error {
	return s.detach(w, r, attachment.AccountRoles, "roleId")
}

func (s *Server) listAccountPolicies(w http.ResponseWriter, r *http.Request) error {
	return s.listAttached(w, r, attachment.AccountPolicies)
}

func (s *Server) attachAccountPolicy(w http.ResponseWriter, r *http.Request) error {
	return s.attach(w, r, attachment.AccountPolicies, "policyId")
}

func (s *Server) detachAccountPolicy(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	if realm.ID == tenant.System {
		admin, err := s.systemAdministratorPolicy(r.Context())
		if err != nil {
			return err
		}
		if r.PathValue("policyId") == admin {
			release, err := s.keepAnAdministrator(r.Context(), realm.ID, r.PathValue("accountId"))
			if err != nil {
				return err
			}
			defer release()
		}
	}
	return s.detach(w, r, attachment.AccountPolicies, "policyId")
}

// attach attaches the target named by path parameter param to the account.
func (s *Server) attach(w http.ResponseWriter, r *http.Request, k attachment.Kind, param string) error {
	realm := tenant.From(r.Context())
	if err := k.Attach(r.Context(), s.db(realm.ID), r.PathValue("accountId"), r.PathValue(param)); err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

// detach detaches the target named by path parameter param from the account.
func (s *Server) detach(w http.ResponseWriter, r *http.Request, k attachment.Kind, param string) error {
	realm := tenant.From(r.Context())
	if err := k.Detach(r.Context(), s.db(realm.ID), r.PathValue("accountId"), r.PathValue(param)); err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

func (s *Server) listAttached(w http.ResponseWriter, r *http.Request, k attachment.Kind) error {
	realm := tenant.From(r.Context())
	refs, err := k.List(r.Context(), s.db(realm.ID), r.PathValue("accountId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, struct {
		Items []attachment.Ref `json:"items"`
	}{Items: refs})
}
