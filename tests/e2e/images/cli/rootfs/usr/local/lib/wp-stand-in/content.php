<?php
/**
 * wp stand-in: user and post commands (enough for tests to change content and check it),
 * through WordPress's own user and post functions.
 */

namespace WpStandin;

// wp-cli's default columns
const USER_FIELDS = ['ID', 'user_login', 'display_name', 'user_email', 'user_registered', 'roles'];
const POST_LIST_FIELDS = ['ID', 'post_title', 'post_name', 'post_date', 'post_status'];

/** A user by ID, login or e-mail, as wp-cli's UserFetcher. */
function find_user(string $which): \WP_User {
	$user = ctype_digit($which) ? get_user_by('id', (int) $which) : false;
	$user = $user ?: get_user_by('login', $which) ?: get_user_by('email', $which);
	if (!$user) {
		error("Invalid user ID, email or login: '$which'");
	}
	return $user;
}

function user_fields(\WP_User $u): array {
	return ['ID' => $u->ID, 'user_login' => $u->user_login, 'display_name' => $u->display_name,
		'user_email' => $u->user_email, 'user_registered' => $u->user_registered,
		'roles' => implode(',', $u->roles)];
}

function user_get(array $args, array $a): int {
	$user = user_fields(find_user($args[0]));
	output_record($user, $a, array_keys($user));
	return 0;
}

function user_list(array $args, array $a): int {
	$query = ['orderby' => 'ID'];
	if (is_string($a['role'] ?? null)) {
		$query['role'] = $a['role'];
	}
	output(array_map(__NAMESPACE__ . '\\user_fields', get_users($query)), $a, USER_FIELDS);
	return 0;
}

function user_update(array $args, array $a): int {
	$user = find_user($args[0]);
	if (!empty($a['skip-email'])) {
		add_filter('send_password_change_email', '__return_false');
		add_filter('send_email_change_email', '__return_false');
	}
	unset($a['skip-email']);
	if (!$a) {
		error('Need some fields to update.');
	}
	$result = wp_update_user(['ID' => $user->ID] + $a);
	if (is_wp_error($result)) {
		error($result->get_error_message());
	}
	success("Updated user {$user->ID}.");
	return 0;
}

/** Exit 0 when the password is the user's (wp_check_password), 1 when not; no output. */
function user_check_password(array $args): int {
	$user = find_user($args[0]);
	return wp_check_password($args[1], $user->user_pass, $user->ID) ? 0 : 1;
}

function post_fields(\WP_Post $p): array {
	return ['ID' => $p->ID, 'post_title' => $p->post_title, 'post_name' => $p->post_name,
		'post_date' => $p->post_date, 'post_status' => $p->post_status, 'post_type' => $p->post_type,
		'post_content' => $p->post_content, 'guid' => $p->guid];
}

function post_create(array $args, array $a): int {
	$porcelain = !empty($a['porcelain']);
	unset($a['porcelain']);
	$id = wp_insert_post(wp_slash($a), true);
	if (is_wp_error($id)) {
		error($id->get_error_message());
	}
	$porcelain ? line((string) $id) : success("Created post $id.");
	return 0;
}

function post_get(array $args, array $a): int {
	$post = get_post((int) $args[0]);
	if (!$post) {
		error("Could not find the post with ID {$args[0]}.");
	}
	output_record(post_fields($post), $a, array_keys(post_fields($post)));
	return 0;
}

function post_list(array $args, array $a): int {
	$posts = get_posts(['post_type' => $a['post_type'] ?? 'post', 'post_status' => $a['post_status'] ?? 'any',
		'posts_per_page' => -1, 'orderby' => 'date', 'order' => 'DESC']);
	output(array_map(__NAMESPACE__ . '\\post_fields', $posts), $a, POST_LIST_FIELDS);
	return 0;
}

function post_delete(array $ids, array $a): int {
	$failed = 0;
	foreach ($ids as $id) {
		$force = !empty($a['force']) || !EMPTY_TRASH_DAYS;
		$done = $force ? wp_delete_post((int) $id, true) : wp_trash_post((int) $id);
		if ($done) {
			success(($force ? 'Deleted' : 'Trashed') . " post $id.");
		} else {
			warning("Failed deleting post $id.");
			$failed++;
		}
	}
	return $failed ? 1 : 0;
}
