-- What a successful group PATCH answers when the request does not say (issue 17 item 2;
-- RFC 7644 §3.5.2 allows 204 No Content): 'no_content' (204, the default: Okta and Entra
-- accept it, and a group's whole member list is not rendered for each membership change) or
-- 'resource' (200 with the group).
ALTER TABLE integrations ADD COLUMN group_patch_answer TEXT NOT NULL DEFAULT 'no_content'
    CHECK (group_patch_answer IN ('no_content', 'resource'));
