package groups

import (
	"net/http"

	"github.com/realmiam/realmiam/shared/attachment"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/tenant"
)

// The roles and policies attached to a group: PUT attaches (idempotent),
// DELETE detaches (idempotent), GET lists in name order. Quotas: 20 roles,
// 20 policies (package attachment).

func (s *Server) listGroupRoles(w http.ResponseWriter, r *http.Request) error {
	return s.listAttached(w, r, attachment.GroupRoles)
}

func (s *Server) attachGroupRole(w http.ResponseWriter, r *http.Request) error {
	return s.attach(w, r, attachment.GroupRoles, "roleId")
}

func (s *Server) detachGroupRole(w http.ResponseWriter, r *http.Request) error {
	return s.detach(w, r, attachment.GroupRoles, "roleId")
}

func (s *Server) listGroupPolicies(w http.ResponseWriter, r *http.Request) error {
	return s.listAttached(w, r, attachment.GroupPolicies)
}

func (s *Server) attachGroupPolicy(w http.ResponseWriter, r *http.Request) error {
	return s.attach(w, r, attachment.GroupPolicies, "policyId")
}

func (s *Server) detachGroupPolicy(w http.ResponseWriter, r *http.Request) error {
	return s.detach(w, r, attachment.GroupPolicies, "policyId")
}

// attach attaches the target named by path parameter param to the group.
func (s *Server) attach(w http.ResponseWriter, r *http.Request, k attachment.Kind, param string) error {
	realm := tenant.From(r.Context())
	if err := k.Attach(r.Context(), s.db(realm.ID), r.PathValue("groupId"), r.PathValue(param)); err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

// detach detaches the target named by path parameter param from the group.
func (s *Server) detach(w http.ResponseWriter, r *http.Request, k attachment.Kind, param string) error {
	realm := tenant.From(r.Context())
	if err := k.Detach(r.Context(), s.db(realm.ID), r.PathValue("groupId"), r.PathValue(param)); err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

func (s *Server) listAttached(w http.ResponseWriter, r *http.Request, k attachment.Kind) error {
	realm := tenant.From(r.Context())
	refs, err := k.List(r.Context(), s.db(realm.ID), r.PathValue("groupId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, struct {
		Items []attachment.Ref `json:"items"`
	}{Items: refs})
}
