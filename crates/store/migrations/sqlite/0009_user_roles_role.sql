-- Who holds a role: the last-administrator guard asks it on every change of rights.
CREATE INDEX user_roles_role ON user_roles (role_id);
